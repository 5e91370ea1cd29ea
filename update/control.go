package update

// UpdateActor travels on the mailbox's control lane, so an update starts
// without waiting behind the user messages queued before it.
func (*UpdateActor) ControlLane() {}
