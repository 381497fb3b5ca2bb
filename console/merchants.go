package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
)

// Merchants is merchant administration with its rules; *gateway.Merchants
// implements it. Merchants it returns carry no secrets, except the new
// ones Create and Rotate hand over once.
type Merchants interface {
	Create(ctx context.Context, name, notifyURL string) (*gateway.Credentials, error)
	List(ctx context.Context, f paygate.MerchantFilter) ([]*paygate.MerchantSummary, error)
	Show(ctx context.Context, accessKey string) (*gateway.MerchantDetail, error)
	Rotate(ctx context.Context, accessKey string, r gateway.Rotate) (*gateway.Rotation, error)
	Disable(ctx context.Context, accessKey string) (*paygate.Merchant, error)
	Enable(ctx context.Context, accessKey string) (*paygate.Merchant, error)
	SetNotifyURL(ctx context.Context, accessKey, url string, resend bool) (*gateway.URLChange, error)
}

// merchantsPage is the merchants list, each merchant's page, and the
// admins' forms: create, rotate, set the URL, disable and enable.
func (c *Console) merchantsPage() page {
	return page{Nav: "Merchants", Path: "/dashboard/merchants", Routes: func(r *router) {
		r.Get("/dashboard/merchants", c.merchants)
		r.Post("/dashboard/merchants", c.createMerchant)
		r.Get("/dashboard/merchants/{id}", c.merchant)
		r.Post("/dashboard/merchants/{id}/rotate", c.rotateMerchant)
		r.Post("/dashboard/merchants/{id}/url", c.setMerchantURL)
		r.Post("/dashboard/merchants/{id}/disable", c.disableMerchant)
		r.Post("/dashboard/merchants/{id}/enable", c.enableMerchant)
	}}
}

// merchantsPageSize is how many merchants a page of the list shows.
const merchantsPageSize = 50

// merchantsView is the list's data.
type merchantsView struct {
	Rows   []merchantRow
	Next   string // the next page's query; empty on the last page
	First  string // the first page's query, when not on it
	Create createForm
}

// merchantRow is a merchant with the grace periods in effect now (zero
// when none).
type merchantRow struct {
	*paygate.MerchantSummary
	SecretGrace  time.Time
	WebhookGrace time.Time
}

func newMerchantRow(sum *paygate.MerchantSummary, now time.Time) merchantRow {
	m := sum.Merchant
	row := merchantRow{MerchantSummary: sum}
	if now.Before(m.PreviousSecretUntil) {
		row.SecretGrace = m.PreviousSecretUntil
	}
	if now.Before(m.PreviousWebhookSecretUntil) {
		row.WebhookGrace = m.PreviousWebhookSecretUntil
	}
	return row
}

// createForm is the new-merchant form. FormID is made when the form is
// rendered and travels in a hidden field: a form submitted twice (a double
// click, a reload of the answer) creates one merchant.
type createForm struct {
	FormID    string
	Name      string
	NotifyURL string
	Error     string
}

// merchants lists merchants newest first, paged.
func (c *Console) merchants(w http.ResponseWriter, r *http.Request, s *Session) error {
	v, err := c.merchantsView(r)
	if err != nil {
		return err
	}
	v.Create = createForm{FormID: randomToken()}
	c.render(w, r, s, http.StatusOK, "merchants", v)
	return nil
}

// merchantsView reads the page of merchants the query asks for.
func (c *Console) merchantsView(r *http.Request) (*merchantsView, error) {
	var before int64
	if b := r.URL.Query().Get("before"); b != "" {
		var err error
		if before, err = strconv.ParseInt(b, 10, 64); err != nil || before <= 0 {
			return nil, paygate.Errorf(paygate.EInvalid, "the page cursor is not valid; start from the first page")
		}
	}
	list, err := c.cfg.Merchants.List(r.Context(), paygate.MerchantFilter{Limit: merchantsPageSize + 1, BeforeID: before})
	if err != nil {
		return nil, err
	}
	v := &merchantsView{}
	if len(list) > merchantsPageSize {
		list = list[:merchantsPageSize]
		v.Next = "?before=" + itoa(list[len(list)-1].Merchant.ID)
	}
	if before > 0 {
		v.First = "/dashboard/merchants"
	}
	now := c.now()
	for _, sum := range list {
		v.Rows = append(v.Rows, newMerchantRow(sum, now))
	}
	return v, nil
}

// createMerchant makes a merchant and shows its secrets, once, on the
// answer itself: they are never stored in the clear, logged, recorded or
// shown again.
func (c *Console) createMerchant(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := createForm{FormID: r.PostFormValue("form_id"), Name: strings.TrimSpace(r.PostFormValue("name")),
		NotifyURL: strings.TrimSpace(r.PostFormValue("notify_url"))}
	refuse := func(status int, msg string) error {
		v, err := c.merchantsView(r)
		if err != nil {
			return err
		}
		f.Error = msg
		if !validFormID(f.FormID) {
			f.FormID = randomToken()
		}
		v.Create = f
		c.render(w, r, s, status, "merchants", v)
		return nil
	}
	if !validFormID(f.FormID) {
		return refuse(http.StatusBadRequest, "The form is not valid; submit it again.")
	}
	if err := gateway.CheckMerchantURL(f.NotifyURL); err != nil {
		f.NotifyURL = echoURL(f.NotifyURL)
		return refuse(http.StatusBadRequest, paygate.ErrorMessage(err))
	}
	done, err := c.formUsed(r.Context(), paygate.ActionMerchantCreate, formTarget(f.FormID))
	if err != nil {
		return err
	}
	if done != nil {
		return refuse(http.StatusConflict, "This form was already submitted ("+when(done.At)+"): "+done.Detail+
			" Its secrets were shown once, on the answer to that submission.")
	}
	var creds *gateway.Credentials
	var cerr error
	a := &audit{Action: paygate.ActionMerchantCreate, Target: formTarget(f.FormID), Detail: "create merchant " + f.Name}
	kind, text := c.audited(r.Context(), s, a, func(a *audit) (string, error) {
		if creds, cerr = c.cfg.Merchants.Create(r.Context(), f.Name, f.NotifyURL); cerr != nil {
			return "", cerr
		}
		a.MerchantID = creds.Merchant.ID
		return "Created merchant " + creds.Merchant.Name + " (" + creds.Merchant.AccessKey + ").", nil
	})
	if kind != "ok" {
		status := http.StatusInternalServerError
		if cerr != nil {
			status = statusOf(cerr)
		}
		return refuse(status, text)
	}
	c.render(w, r, s, http.StatusOK, "secrets", secretsView{Created: true, Merchant: creds.Merchant,
		SecretKey: creds.SecretKey, WebhookSecret: creds.WebhookSecret})
	return nil
}

// secretsView is the one page that shows secrets: a new merchant's, or
// those a rotation made.
type secretsView struct {
	Created       bool
	Merchant      *paygate.Merchant // without secrets
	SecretKey     string
	WebhookSecret string
	GraceUntil    time.Time
	Dropped       []string
}

// formUsed is the record of a form already submitted for action (its
// intent, or its outcome unless that was a refusal), nil if none: recent
// records are enough, since a form is resubmitted within minutes.
func (c *Console) formUsed(ctx context.Context, action, target string) (*paygate.OperatorAction, error) {
	recent, err := c.store.OperatorActions(ctx, paygate.OperatorActionFilter{Limit: 500})
	if err != nil {
		return nil, err
	}
	for _, a := range recent { // newest first: the outcome, if any, before its intent
		if a.Action == action && a.Target == target {
			if a.Outcome == paygate.OutcomeFailed {
				return nil, nil // refused: the form may be sent again
			}
			return a, nil
		}
	}
	return nil, nil
}

// echoURL is a refused URL as the form shows it again: as typed, unless it
// carries user information (a password), which is not sent back.
func echoURL(raw string) string {
	if u, err := url.Parse(raw); err != nil || u.User != nil {
		return ""
	}
	return raw
}

func formTarget(id string) string { return "form " + id }

// validFormID accepts what randomToken makes: letters and digits.
func validFormID(id string) bool {
	return len(id) >= 16 && len(id) <= 64 && strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == ""
}

// merchantView is a merchant's page.
type merchantView struct {
	*gateway.MerchantDetail
	Row     merchantRow
	Actions []*paygate.OperatorAction
	Version string // the merchant's UpdatedAt: a rotation form is for this state of it
	Rotate  rotateForm
	URL     urlForm
	// ConfirmDisable: the disable form is the confirmation step.
	ConfirmDisable bool
	Graces         []graceOption
}

// merchant shows one merchant: its facts, webhook backlog and why events
// are dead-lettered, the operators' actions on it, and (for admins) the
// forms.
func (c *Console) merchant(w http.ResponseWriter, r *http.Request, s *Session) error {
	v, err := c.merchantView(r)
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "merchant", v)
	return nil
}

// merchantView reads the merchant of the {id} path value and what its
// page shows, with the forms at their defaults.
func (c *Console) merchantView(r *http.Request) (*merchantView, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, paygate.Errorf(paygate.ENotFound, "no such merchant")
	}
	ctx := r.Context()
	m, err := c.store.MerchantByID(ctx, id)
	if paygate.ErrorCode(err) == paygate.ENotFound {
		return nil, paygate.Errorf(paygate.ENotFound, "no such merchant")
	}
	if err != nil {
		return nil, err
	}
	d, err := c.cfg.Merchants.Show(ctx, m.AccessKey)
	if err != nil {
		return nil, err
	}
	v := &merchantView{MerchantDetail: d, Row: newMerchantRow(d.MerchantSummary, c.now()),
		Version: strconv.FormatInt(d.Merchant.UpdatedAt.UnixMicro(), 10), Graces: graceOptions,
		Rotate: rotateForm{SecretKey: true, Grace: defaultGrace},
		URL:    urlForm{NotifyURL: d.Merchant.NotifyURL, Resend: true}}
	if v.Actions, err = c.store.OperatorActions(ctx, paygate.OperatorActionFilter{MerchantID: id, Limit: 100}); err != nil {
		return nil, err
	}
	return v, nil
}

// merchantURL is the merchant's page.
func merchantURL(m *paygate.Merchant) string { return "/dashboard/merchants/" + itoa(m.ID) }

// when is a time as the pages show it, in Zone.
func when(t time.Time) string { return t.In(Zone).Format("2006-01-02 15:04:05") }
