package deploy_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

// stage is one FROM and what follows it.
type stage struct {
	from, name string
	body       []instruction
}

// parseDockerfile splits a Dockerfile into stages, as far as the checks below
// need (no parser directives or heredocs beyond the syntax line).
func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	start := 0
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("line %d: %s before the first FROM", in.line, in.cmd)
			}
			return
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, string(readFile(t, "Dockerfile")))
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, have %d stage(s)", len(stages))
	}
	names := map[string]bool{}
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z0-9]+)?$|@sha256:[0-9a-f]{64}$`)
	for _, s := range stages {
		if s.from != "scratch" && !names[s.from] && !pinned.MatchString(s.from) {
			t.Errorf("FROM %s: pin the image to a version", s.from)
		}
		names[s.name] = true
		for _, in := range s.body {
			if in.cmd == "ADD" {
				t.Errorf("line %d: ADD (use COPY; never fetch URLs at build time)", in.line)
			}
			if in.cmd == "HEALTHCHECK" {
				t.Errorf("line %d: HEALTHCHECK needs a shell the image does not have", in.line)
			}
		}
	}
	built := slices.ContainsFunc(stages, func(s stage) bool {
		return slices.ContainsFunc(s.body, func(in instruction) bool {
			return in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "go build")
		})
	})
	if !built {
		t.Error("no RUN builds paygate with CGO_ENABLED=0")
	}

	final := stages[len(stages)-1]
	if final.from != "scratch" && !strings.Contains(final.from, "distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless/static", final.from)
	}
	last := map[string]string{}
	for _, in := range final.body {
		if in.cmd == "RUN" {
			t.Errorf("line %d: RUN in the final stage (it has no shell)", in.line)
		}
		last[in.cmd] = in.args
	}
	user, _, _ := strings.Cut(last["USER"], ":")
	if user == "" || user == "root" || user == "0" {
		t.Errorf("final stage USER %q, want a non-root user", last["USER"])
	}
	if last["ENTRYPOINT"] != `["/usr/local/bin/paygate"]` {
		t.Errorf("ENTRYPOINT %s, want the exec form [\"/usr/local/bin/paygate\"]", last["ENTRYPOINT"])
	}
	if last["CMD"] != `["serve", "--config", "/etc/paygate/paygate.yaml"]` {
		t.Errorf("CMD %s, want serve --config /etc/paygate/paygate.yaml", last["CMD"])
	}
}
