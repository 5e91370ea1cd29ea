package update

// UpdateActor travels on the mailbox's control lane, so an update starts
// without waiting behind the user messages queued before it.
func (*UpdateActor) ControlLane() {}

// CommitUpdate and AbortUpdate decide a staged update while the actor holds
// its user messages, so they travel on the control lane too.
func (*CommitUpdate) ControlLane() {}

func (*AbortUpdate) ControlLane() {}

// WaitsItsTurn keeps an update sent with ORDER_IN_ORDER out of the control
// lane: it is queued with the user messages and reaches the actor after
// every message queued before it (mailbox.Queued).
func (m *UpdateActor) WaitsItsTurn() bool { return m.GetOrder() == Order_ORDER_IN_ORDER }
