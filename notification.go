package paygate

import "errors"

// ErrNotifyLater is wrapped by the errors of a channel notification that was
// neither applied nor refused: the order is being decided (a barcode
// payment's loop, a cancel on its way) and the channel is to send it again.
// The edge answers "failure" as for any error, but logs it as expected.
var ErrNotifyLater = errors.New("notify again later")
