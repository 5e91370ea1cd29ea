package update

// UpdateActor travels on the mailbox's control lane, so an update starts
// without waiting behind the user messages queued before it.
func (*UpdateActor) ControlLane() {}

// CommitUpdate and AbortUpdate decide a staged update while the actor holds
// its user messages, so they travel on the control lane too.
func (*CommitUpdate) ControlLane() {}

func (*AbortUpdate) ControlLane() {}
