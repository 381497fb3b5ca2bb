package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/console"
)

func newOperatorCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "Manage the console's operators (create, passwd, disable, list)"}
	cmd.AddCommand(newOperatorCreateCmd(stdout), newOperatorPasswdCmd(stdout), newOperatorDisableCmd(stdout),
		newOperatorListCmd(stdout))
	return cmd
}

// hashOperatorPassword checks and hashes a new password.
func hashOperatorPassword(pw string) (string, error) {
	if err := console.CheckPassword(pw); err != nil {
		return "", err
	}
	return console.HashPassword(pw, console.DefaultPasswordParams)
}

// readPassword is the first line of in (--password-stdin), or a new random
// password to print once.
func readPassword(in io.Reader, fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		return console.RandomPassword(), true, nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, console.MaxPasswordLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("reading the password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), false, nil
}

func newOperatorCreateCmd(stdout io.Writer) *cobra.Command {
	var (
		d         dataFlags
		username  string
		role      string
		fromStdin bool
	)
	cmd := &cobra.Command{
		Use:   "create --username U [--role admin|viewer] [--password-stdin]",
		Short: "Create an operator of the console",
		Long: "Create an operator. viewer (the default) reads every page; admin also refreshes, closes and\n" +
			"refunds orders and re-sends webhooks. Without --password-stdin a strong password is generated\n" +
			"and printed once. Passwords are stored only as argon2id hashes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			username = strings.ToLower(strings.TrimSpace(username))
			if err := paygate.CheckUsername(username); err != nil {
				return fmt.Errorf("operator create: --username: %s", paygate.ErrorMessage(err))
			}
			r := paygate.Role(role)
			if !r.Valid() {
				return fmt.Errorf("operator create: --role must be admin or viewer, not %q", role)
			}
			pw, generated, err := readPassword(cmd.InOrStdin(), fromStdin)
			if err != nil {
				return err
			}
			hash, err := hashOperatorPassword(pw)
			if err != nil {
				return fmt.Errorf("operator create: %w", err)
			}
			st, err := openOperatorData(cmd.Context(), d)
			if err != nil {
				return err
			}
			defer st.Close()
			o := &paygate.Operator{Username: username, PasswordHash: hash, Role: r, CreatedAt: time.Now()}
			if err := st.CreateOperator(cmd.Context(), o); err != nil {
				if paygate.ErrorCode(err) == paygate.EConflict {
					return fmt.Errorf("operator create: operator %q already exists (paygate operator passwd %s sets a new password)", username, username)
				}
				return fmt.Errorf("operator create: %w", err)
			}
			fmt.Fprintf(stdout, "operator %q created (role %s)\n", username, r)
			if generated {
				fmt.Fprintf(stdout, "password: %s\n(shown once; keep it in a password manager)\n", pw)
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().StringVar(&username, "username", "", "the operator's login: 1 to 64 of a-z, 0-9, '.', '_', '-'")
	cmd.Flags().StringVar(&role, "role", string(paygate.RoleViewer), "viewer (read) or admin (money actions)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin instead of generating one")
	return cmd
}

// openOperatorData opens the configured store.
func openOperatorData(ctx context.Context, d dataFlags) (storeCloser, error) {
	cfg, err := d.resolve()
	if err != nil {
		return nil, err
	}
	return openData(ctx, cfg)
}

// changeOperator loads an operator, lets change edit it, ends every
// session it has (SessionsValidAfter = now) and writes it back.
func changeOperator(ctx context.Context, d dataFlags, what, username string, change func(o *paygate.Operator) error) error {
	st, err := openOperatorData(ctx, d)
	if err != nil {
		return err
	}
	defer st.Close()
	o, err := st.OperatorByUsername(ctx, strings.ToLower(username))
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return fmt.Errorf("operator %s: no operator %q (paygate operator list shows them)", what, username)
	}
	if err != nil {
		return fmt.Errorf("operator %s: %w", what, err)
	}
	if err := change(o); err != nil {
		return fmt.Errorf("operator %s: %w", what, err)
	}
	now := time.Now()
	o.SessionsValidAfter, o.UpdatedAt = now, now
	if err := st.UpdateOperator(ctx, o); err != nil {
		return fmt.Errorf("operator %s: %w", what, err)
	}
	return nil
}

func newOperatorPasswdCmd(stdout io.Writer) *cobra.Command {
	var (
		d         dataFlags
		fromStdin bool
	)
	cmd := &cobra.Command{
		Use:   "passwd USERNAME [--password-stdin]",
		Short: "Set an operator's password; every session of theirs ends at once",
		Long: "Set a new password (generated and printed once, or read from stdin). The lockout after\n" +
			"failed logins is lifted, and every session the operator has is refused from now on.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := readPassword(cmd.InOrStdin(), fromStdin)
			if err != nil {
				return err
			}
			hash, err := hashOperatorPassword(pw)
			if err != nil {
				return fmt.Errorf("operator passwd: %w", err)
			}
			err = changeOperator(cmd.Context(), d, "passwd", args[0], func(o *paygate.Operator) error {
				o.PasswordHash, o.FailedLogins, o.LockedUntil = hash, 0, time.Time{}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "password of %q changed; their sessions have ended\n", strings.ToLower(args[0]))
			if generated {
				fmt.Fprintf(stdout, "password: %s\n(shown once)\n", pw)
			}
			return nil
		},
	}
	d.register(cmd)
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin instead of generating one")
	return cmd
}

func newOperatorDisableCmd(stdout io.Writer) *cobra.Command {
	var d dataFlags
	cmd := &cobra.Command{
		Use:   "disable USERNAME",
		Short: "Disable an operator: no more logins, every session ends at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := changeOperator(cmd.Context(), d, "disable", args[0], func(o *paygate.Operator) error {
				if o.DisabledAt.IsZero() {
					o.DisabledAt = time.Now()
				}
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "operator %q disabled; their sessions have ended\n", strings.ToLower(args[0]))
			return nil
		},
	}
	d.register(cmd)
	return cmd
}

// operatorJSON is an operator as `operator list --json` prints it: no hash.
type operatorJSON struct {
	Username    string     `json:"username"`
	Role        string     `json:"role"`
	CreatedAt   time.Time  `json:"created_at"`
	DisabledAt  *time.Time `json:"disabled_at"`
	LockedUntil *time.Time `json:"locked_until"`
}

func newOperatorListCmd(stdout io.Writer) *cobra.Command {
	var (
		d      dataFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the console's operators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openOperatorData(cmd.Context(), d)
			if err != nil {
				return err
			}
			defer st.Close()
			ops, err := st.ListOperators(cmd.Context())
			if err != nil {
				return fmt.Errorf("operator list: %w", err)
			}
			now := time.Now()
			opt := func(t time.Time) *time.Time {
				if t.IsZero() {
					return nil
				}
				return &t
			}
			if asJSON {
				out := []operatorJSON{}
				for _, o := range ops {
					locked := time.Time{}
					if o.Locked(now) {
						locked = o.LockedUntil
					}
					out = append(out, operatorJSON{Username: o.Username, Role: string(o.Role), CreatedAt: o.CreatedAt,
						DisabledAt: opt(o.DisabledAt), LockedUntil: opt(locked)})
				}
				return json.NewEncoder(stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USERNAME\tROLE\tCREATED\tSTATE")
			for _, o := range ops {
				state := "active"
				switch {
				case o.Disabled():
					state = "disabled " + o.DisabledAt.Format(time.RFC3339)
				case o.Locked(now):
					state = "locked until " + o.LockedUntil.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Username, o.Role, o.CreatedAt.Format(time.RFC3339), state)
			}
			return tw.Flush()
		},
	}
	d.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}
