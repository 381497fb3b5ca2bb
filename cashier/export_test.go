package cashier

// Watching is how many tokens have a watcher now (one per token, however
// many streams follow it).
func (h *Handler) Watching() int { return h.hub.watching() }
