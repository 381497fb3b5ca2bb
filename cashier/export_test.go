package cashier

// Watching is how many tokens have a watcher now (one per token, however
// many streams follow it).
func (h *Handler) Watching() int { return h.hub.watching() }

// QRSVG is qrSVG, so that a test can tell which content a page's code
// draws.
var QRSVG = qrSVG
