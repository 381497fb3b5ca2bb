package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "sigs.k8s.io/yaml"
)

// manifests are deploy/k8s's objects, decoded strictly into the API types.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	configMap  *corev1.ConfigMap
	job        *batchv1.Job
}

// decodeManifests decodes every document of every file under k8s/ into the
// type its apiVersion and kind name, refusing unknown fields (a misspelt or
// misplaced key) and unknown kinds.
func decodeManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under k8s/: %v", err)
	}
	var m manifests
	for _, f := range files {
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(readFile(t, f)), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := k8syaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				m.deployment = &appsv1.Deployment{}
				obj = m.deployment
			case "v1 Service":
				m.service = &corev1.Service{}
				obj = m.service
			case "policy/v1 PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				obj = m.pdb
			case "autoscaling/v2 HorizontalPodAutoscaler":
				m.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
				obj = m.hpa
			case "v1 ConfigMap":
				m.configMap = &corev1.ConfigMap{}
				obj = m.configMap
			case "batch/v1 Job":
				m.job = &batchv1.Job{}
				obj = m.job
			default:
				t.Fatalf("%s #%d: unexpected %s %s", f, i, tm.APIVersion, tm.Kind)
			}
			if err := k8syaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s #%d (%s): %v", f, i, tm.Kind, err)
			}
		}
	}
	if m.deployment == nil || m.service == nil || m.pdb == nil || m.hpa == nil || m.configMap == nil || m.job == nil {
		t.Fatalf("want a Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler, ConfigMap and Job, have %+v", m)
	}
	return m
}

// TestK8sStrictDecodeRefusesTypos makes sure the strict decode above would
// catch a misspelt field: the check is only worth what it refuses.
func TestK8sStrictDecodeRefusesTypos(t *testing.T) {
	doc := []byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n")
	if err := k8syaml.UnmarshalStrict(doc, &appsv1.Deployment{}); err == nil {
		t.Fatal("UnmarshalStrict accepted spec.replica")
	}
}

func TestK8sManifests(t *testing.T) {
	m := decodeManifests(t)
	pod := m.deployment.Spec.Template
	if !selects(m.deployment.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("Deployment selector %v does not select its pods %v", m.deployment.Spec.Selector.MatchLabels, pod.Labels)
	}
	if !selects(m.service.Spec.Selector, pod.Labels) {
		t.Errorf("Service selector %v does not select the pods", m.service.Spec.Selector)
	}
	if !selects(m.pdb.Spec.Selector.MatchLabels, pod.Labels) || m.pdb.Spec.MinAvailable == nil {
		t.Errorf("PodDisruptionBudget: selector %v, minAvailable %v", m.pdb.Spec.Selector.MatchLabels, m.pdb.Spec.MinAvailable)
	}
	if ref := m.hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != m.deployment.Name {
		t.Errorf("HPA scales %s/%s, want Deployment/%s", ref.Kind, ref.Name, m.deployment.Name)
	}
	if m.hpa.Spec.MinReplicas == nil || *m.hpa.Spec.MinReplicas < 2 {
		t.Error("HPA minReplicas below 2: a restart would be an outage")
	}
	if ru := m.deployment.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("rolling update must keep maxUnavailable 0")
	}

	c := onlyContainer(t, pod.Spec)
	checkProbe(t, c, "readiness", c.ReadinessProbe, "/readyz")
	checkProbe(t, c, "liveness", c.LivenessProbe, "/healthz")
	for _, p := range m.service.Spec.Ports {
		if !hasPort(c, p.TargetPort) {
			t.Errorf("Service port %s targets %s, which the container does not expose", p.Name, p.TargetPort.String())
		}
	}
	if !slices.Equal(c.Args, []string{"serve", "--config", "/etc/paygate/paygate.yaml"}) {
		t.Errorf("args %q", c.Args)
	}
	jc := onlyContainer(t, m.job.Spec.Template.Spec)
	if !slices.Equal(jc.Args, []string{"migrate", "--config", "/etc/paygate/paygate.yaml"}) || jc.Image != c.Image {
		t.Errorf("migration Job runs %s %q, want the Deployment's image %s with migrate --config", jc.Image, jc.Args, c.Image)
	}
	for _, spec := range []struct {
		name string
		pod  corev1.PodSpec
	}{{"Deployment", pod.Spec}, {"Job", m.job.Spec.Template.Spec}} {
		checkSecurity(t, spec.name, spec.pod)
		checkMounts(t, spec.name, spec.pod)
		checkImagePinned(t, spec.name, spec.pod)
	}

	// Draining fits in the grace period: preStop sleep, then paygate's
	// drain_delay and shutdown_timeout from the ConfigMap.
	cfg := configMapServer(t, m.configMap)
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep (the image has no shell: use lifecycle.preStop.sleep)")
	}
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	if need := preStop + cfg.DrainDelay + cfg.ShutdownTimeout; grace <= need {
		t.Errorf("terminationGracePeriodSeconds %s <= preStop %s + drain_delay %s + shutdown_timeout %s",
			grace, preStop, cfg.DrainDelay, cfg.ShutdownTimeout)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("want cpu requests (the HPA scales on them) and a memory limit")
	}
}

// selects reports whether selector matches labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func onlyContainer(t *testing.T, spec corev1.PodSpec) corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(spec.Containers))
	}
	return spec.Containers[0]
}

func hasPort(c corev1.Container, port intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

func checkProbe(t *testing.T, c corev1.Container, what string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("no HTTP %s probe", what)
		return
	}
	if p.HTTPGet.Path != path || !hasPort(c, p.HTTPGet.Port) || p.HTTPGet.Port.String() != "http" {
		t.Errorf("%s probe GET %s on port %s, want %s on http", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
	}
}

func checkSecurity(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	ps := spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("%s: the pod must run as a non-root user", name)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: paygate needs no API token: automountServiceAccountToken: false", name)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s/%s: want readOnlyRootFilesystem, no privilege escalation, capabilities dropped", name, c.Name)
		}
	}
}

// checkMounts: every mount names a volume, secrets and config maps are
// referenced by the names the README tells to create.
func checkMounts(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	for _, c := range spec.Containers {
		for _, vm := range c.VolumeMounts {
			if _, ok := vols[vm.Name]; !ok {
				t.Errorf("%s: mount of unknown volume %q", name, vm.Name)
			}
		}
		for _, e := range c.Env {
			if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil && r.SecretKeyRef.Name != "paygate-env" {
				t.Errorf("%s: %s from secret %q, want paygate-env", name, e.Name, r.SecretKeyRef.Name)
			}
		}
	}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil && v.Secret.SecretName != "paygate-keys":
			t.Errorf("%s: secret volume %q, want paygate-keys", name, v.Secret.SecretName)
		case v.ConfigMap != nil && v.ConfigMap.Name != "paygate-config":
			t.Errorf("%s: config map %q, want paygate-config", name, v.ConfigMap.Name)
		}
	}
}

// checkImagePinned: a tag that names a version, never latest or none.
func checkImagePinned(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	for _, c := range spec.Containers {
		if !regexp.MustCompile(`:[0-9]+\.[0-9]+\.[0-9]+$|@sha256:[0-9a-f]{64}$`).MatchString(c.Image) {
			t.Errorf("%s: image %q is not pinned to a version", name, c.Image)
		}
	}
}

// serverTimes are the server settings the grace period must cover.
type serverTimes struct {
	ShutdownTimeout, DrainDelay time.Duration
}

// configMapServer reads the server's drain times from the ConfigMap's
// paygate.yaml (the file itself is checked by TestK8sConfigLoads).
func configMapServer(t *testing.T, cm *corev1.ConfigMap) serverTimes {
	t.Helper()
	var c struct {
		Server struct {
			ShutdownTimeout string `json:"shutdown_timeout"`
			DrainDelay      string `json:"drain_delay"`
		} `json:"server"`
	}
	if err := k8syaml.Unmarshal([]byte(cm.Data["paygate.yaml"]), &c); err != nil {
		t.Fatal(err)
	}
	var st serverTimes
	var err1, err2 error
	st.ShutdownTimeout, err1 = time.ParseDuration(c.Server.ShutdownTimeout)
	st.DrainDelay, err2 = time.ParseDuration(c.Server.DrainDelay)
	if err1 != nil || err2 != nil {
		t.Fatalf("paygate.yaml must set server.shutdown_timeout and drain_delay: %v %v", err1, err2)
	}
	return st
}

// TestK8sConfigLoads loads the ConfigMap's paygate.yaml with paygate's own
// loader: `paygate migrate --config` refuses an unknown key, a bad value or
// a missing required key; the database and master key are overridden by the
// environment (a throwaway SQLite file), as the Deployment overrides them.
func TestK8sConfigLoads(t *testing.T) {
	m := decodeManifests(t)
	migrateConfig(t, []byte(m.configMap.Data["paygate.yaml"]))
}

// migrateConfig runs `paygate migrate --config` on config against a
// throwaway SQLite database and fails t with paygate's error.
func migrateConfig(t *testing.T, config []byte) {
	t.Helper()
	bin := paygateBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "paygate.yaml")
	if err := os.WriteFile(path, config, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "migrate", "--config", path)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"PAYGATE_DATABASE_URL=sqlite:" + filepath.Join(dir, "paygate.db"),
		"PAYGATE_SECRETS_MASTER_KEY=" + strings.Repeat("ab", 32),
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("paygate migrate --config: %v\n%s", err, out.String())
	}
}

// paygateBinary builds ./cmd/paygate into t's temporary directory (the
// build cache makes a second build a link).
func paygateBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "paygate")
	out, err := exec.Command("go", "build", "-o", path, "../cmd/paygate").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}
