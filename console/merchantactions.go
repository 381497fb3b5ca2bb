package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
)

// The merchant page's forms, for admins (router.Post checks the role, the
// origin and the CSRF token). Each goes through gateway.Merchants, is
// recorded in operator_actions with the merchant's ID (see audited), and
// sends the operator back to the merchant's page with the outcome, except
// a rotation, whose answer shows the new secrets once.

// rotateForm is the rotation form as typed.
type rotateForm struct {
	SecretKey     bool
	WebhookSecret bool
	Grace         string // a duration from graceOptions
	Confirm       bool   // the form is the confirmation step
	GraceUntil    time.Time
	Drops         []string // previous secrets in their grace that the rotation ends
	Error         string
}

// graceOption is a choice of the grace period.
type graceOption struct {
	Value, Label string
}

// graceOptions are the grace periods offered: none, an hour, the default
// day, up to the longest allowed (gateway.MaxGrace).
var graceOptions = []graceOption{
	{"0s", "none: the old secret stops at once"}, {"1h0m0s", "1 hour"}, {"24h0m0s", "24 hours"},
	{"72h0m0s", "3 days"}, {"168h0m0s", "7 days"}, {"720h0m0s", "30 days"},
}

// defaultGrace is gateway.DefaultGrace as a form value.
var defaultGrace = gateway.DefaultGrace.String()

// rotateMerchant is the rotation form's two steps: without confirm=yes it
// checks the form and shows what the rotation will do; with it, it
// rotates, if the merchant is still as the form saw it (its version), so
// that a form sent twice rotates once, and shows the new secrets.
func (c *Console) rotateMerchant(w http.ResponseWriter, r *http.Request, s *Session) error {
	v, err := c.merchantView(r)
	if err != nil {
		return err
	}
	m := v.Merchant
	f := rotateForm{SecretKey: r.PostFormValue("secret_key") == "on", WebhookSecret: r.PostFormValue("webhook_secret") == "on",
		Grace: r.PostFormValue("grace")}
	grace, gerr := time.ParseDuration(f.Grace)
	confirmed := r.PostFormValue("confirm") == "yes"
	status := http.StatusOK
	switch {
	case !f.SecretKey && !f.WebhookSecret:
		f.Error, status = "Choose what to rotate: the API secret key, the webhook secret, or both.", http.StatusBadRequest
	case gerr != nil || grace < 0 || grace > gateway.MaxGrace:
		f.Error, status = "Choose a grace period from the list.", http.StatusBadRequest
	case confirmed && r.PostFormValue("version") != v.Version:
		f.Error, status = staleRotation, http.StatusConflict
	case !confirmed:
		f.Confirm = true
		if grace > 0 {
			f.GraceUntil = c.now().Add(grace)
		}
		if f.SecretKey && !v.Row.SecretGrace.IsZero() {
			f.Drops = append(f.Drops, "the previous API secret key (in its grace until "+when(v.Row.SecretGrace)+")")
		}
		if f.WebhookSecret && !v.Row.WebhookGrace.IsZero() {
			f.Drops = append(f.Drops, "the previous webhook secret (in its grace until "+when(v.Row.WebhookGrace)+")")
		}
	}
	if f.Error != "" || f.Confirm {
		v.Rotate = f
		c.render(w, r, s, status, "merchant", v)
		return nil
	}
	var which []string
	if f.SecretKey {
		which = append(which, "API secret key")
	}
	if f.WebhookSecret {
		which = append(which, "webhook secret")
	}
	var rot *gateway.Rotation
	conflict := false
	a := &audit{Action: paygate.ActionMerchantRotate, MerchantID: m.ID, Target: m.AccessKey,
		Detail: "rotate the " + strings.Join(which, " and the ") + ", grace " + grace.String()}
	kind, text := c.audited(r.Context(), s, a, func(*audit) (string, error) {
		var err error
		// Conditional on the state the form was confirmed for: the
		// version check above is a read, and the same confirmation sent
		// twice at once passes it twice.
		rot, err = c.cfg.Merchants.Rotate(r.Context(), m.AccessKey, gateway.Rotate{SecretKey: f.SecretKey,
			WebhookSecret: f.WebhookSecret, Grace: grace, IfUpdatedAt: m.UpdatedAt})
		if err != nil {
			conflict = paygate.ErrorCode(err) == paygate.EConflict
			return "", err
		}
		done := "Rotated the " + strings.Join(which, " and the ")
		switch {
		case rot.GraceUntil.IsZero():
			done += "; the replaced secrets stopped working at once"
		case len(which) == 1:
			done += "; the replaced one keeps working until " + when(rot.GraceUntil)
		default:
			done += "; the replaced ones keep working until " + when(rot.GraceUntil)
		}
		if len(rot.Dropped) > 0 {
			done += "; ended the grace of the previous " + strings.Join(rot.Dropped, " and ")
		}
		return done + ".", nil
	})
	if conflict {
		v.Rotate = rotateForm{SecretKey: f.SecretKey, WebhookSecret: f.WebhookSecret, Grace: f.Grace, Error: staleRotation}
		c.render(w, r, s, http.StatusConflict, "merchant", v)
		return nil
	}
	if kind != "ok" {
		c.setFlash(w, s, kind, text)
		http.Redirect(w, r, merchantURL(m), http.StatusSeeOther)
		return nil
	}
	c.render(w, r, s, http.StatusOK, "secrets", secretsView{Merchant: rot.Merchant, SecretKey: rot.SecretKey,
		WebhookSecret: rot.WebhookSecret, GraceUntil: rot.GraceUntil, Dropped: rot.Dropped})
	return nil
}

// staleRotation refuses a rotation confirmed for a merchant that changed
// since.
const staleRotation = "The merchant changed since this form was shown (another operator, or this form sent twice): " +
	"nothing was rotated. Check the page and rotate again if still needed."

// urlForm is the webhook URL form as typed.
type urlForm struct {
	NotifyURL string
	Resend    bool
	Confirm   bool // clearing the URL is confirmed first
	Error     string
}

// setMerchantURL sets (or, after a confirmation, clears) the merchant's
// webhook URL; with resend, the events dead-lettered for want of a URL in
// the last gateway.ResendWindow go to the new one.
func (c *Console) setMerchantURL(w http.ResponseWriter, r *http.Request, s *Session) error {
	v, err := c.merchantView(r)
	if err != nil {
		return err
	}
	m := v.Merchant
	f := urlForm{NotifyURL: strings.TrimSpace(r.PostFormValue("notify_url")), Resend: r.PostFormValue("resend") == "on"}
	if err := gateway.CheckMerchantURL(f.NotifyURL); err != nil {
		f.Error, f.NotifyURL = paygate.ErrorMessage(err), echoURL(f.NotifyURL)
		v.URL = f
		c.render(w, r, s, http.StatusBadRequest, "merchant", v)
		return nil
	}
	if f.NotifyURL == "" && m.NotifyURL != "" && r.PostFormValue("confirm") != "yes" {
		f.Confirm = true
		v.URL = f
		c.render(w, r, s, http.StatusOK, "merchant", v)
		return nil
	}
	detail := "clear the webhook URL"
	if f.NotifyURL != "" {
		detail = "set the webhook URL to " + urlHost(f.NotifyURL)
		if f.Resend {
			detail += ", re-sending what was dead-lettered for want of one"
		}
	}
	a := &audit{Action: paygate.ActionMerchantURL, MerchantID: m.ID, Target: m.AccessKey, Detail: detail}
	kind, text := c.audited(r.Context(), s, a, func(*audit) (string, error) {
		ch, err := c.cfg.Merchants.SetNotifyURL(r.Context(), m.AccessKey, f.NotifyURL, f.Resend)
		if err != nil {
			return "", err
		}
		if f.NotifyURL == "" {
			return "The webhook URL is cleared: events are dead-lettered until one is set.", nil
		}
		done := "The webhook URL is set (" + urlHost(f.NotifyURL) + ")."
		if n := len(ch.Resent); n > 0 {
			done += " " + strconv.Itoa(n) + " event(s) dead-lettered for want of a URL are re-sent to it."
		}
		return done, nil
	})
	c.setFlash(w, s, kind, text)
	http.Redirect(w, r, merchantURL(m), http.StatusSeeOther)
	return nil
}

// urlHost is a URL's scheme and host, what the audit trail and the flash
// say of it: its path or query may hold a token.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "an invalid URL"
	}
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// disableMerchant refuses the merchant's API requests from now on, after a
// confirmation.
func (c *Console) disableMerchant(w http.ResponseWriter, r *http.Request, s *Session) error {
	v, err := c.merchantView(r)
	if err != nil {
		return err
	}
	m := v.Merchant
	if r.PostFormValue("confirm") != "yes" {
		v.ConfirmDisable = true
		c.render(w, r, s, http.StatusOK, "merchant", v)
		return nil
	}
	a := &audit{Action: paygate.ActionMerchantDisable, MerchantID: m.ID, Target: m.AccessKey, Detail: "disable"}
	kind, text := c.audited(r.Context(), s, a, func(*audit) (string, error) {
		if _, err := c.cfg.Merchants.Disable(r.Context(), m.AccessKey); err != nil {
			return "", err
		}
		return "The merchant is disabled: its API requests are refused; its orders still settle and their webhooks still go out.", nil
	})
	c.setFlash(w, s, kind, text)
	http.Redirect(w, r, merchantURL(m), http.StatusSeeOther)
	return nil
}

// enableMerchant undoes disableMerchant.
func (c *Console) enableMerchant(w http.ResponseWriter, r *http.Request, s *Session) error {
	v, err := c.merchantView(r)
	if err != nil {
		return err
	}
	m := v.Merchant
	a := &audit{Action: paygate.ActionMerchantEnable, MerchantID: m.ID, Target: m.AccessKey, Detail: "enable"}
	kind, text := c.audited(r.Context(), s, a, func(*audit) (string, error) {
		if _, err := c.cfg.Merchants.Enable(r.Context(), m.AccessKey); err != nil {
			return "", err
		}
		return "The merchant is enabled: its API requests are accepted again.", nil
	})
	c.setFlash(w, s, kind, text)
	http.Redirect(w, r, merchantURL(m), http.StatusSeeOther)
	return nil
}
