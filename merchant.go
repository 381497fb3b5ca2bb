package paygate

import "time"

// Merchant is a shop that calls the API. AccessKey identifies it in requests;
// SecretKey signs them; WebhookSecret signs what paygate sends it. Both
// secrets are encrypted at rest (see Sealer) and never logged.
type Merchant struct {
	ID            int64
	Name          string
	AccessKey     string
	SecretKey     string
	WebhookSecret string
	NotifyURL     string // default webhook URL for its orders
	CreatedAt     time.Time
}

// String omits the secrets, so a merchant printed by accident leaks nothing.
func (m *Merchant) String() string {
	return "merchant " + m.Name + " (" + m.AccessKey + ")"
}
