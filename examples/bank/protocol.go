package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/update"
)

// The bank's messages. Amounts are in cents on the wire in every version:
// only the way a shard stores its accounts changes from version to version.

// Open gives a shard its place in the bank and its accounts, each with the
// same opening balance. The reply is *Opened.
type Open struct {
	Shard, Shards int
	Accounts      []string
	Cents         int64
}

// Opened answers Open; Err is empty if every account was opened.
type Opened struct{ Err string }

// Transfer asks the shard that holds From to move Cents to To. The reply is
// a *TransferReply, sent once From is debited: the money is then on its way.
type Transfer struct {
	From, To string
	Cents    int64
}

// TransferReply answers Transfer. Refused is empty if From was debited; ID
// names the transfer in the debiting shard's ledger. Version is the version
// of the shard that answered.
type TransferReply struct {
	ID      uint64
	Version uint32
	Refused string
}

// Credit is sent by the debiting shard to the shard of To, with Request; it
// answers *Ack once To is credited, or *Nack if it cannot credit it (the
// sender then refunds the debit).
type Credit struct {
	ID    uint64
	To    string
	Cents int64
}

// Ack says that the credit of transfer ID was made.
type Ack struct{ ID uint64 }

// Nack says that the credit of transfer ID was refused, and why.
type Nack struct {
	ID     uint64
	Reason string
}

// Flush is sent by a shard told of an update to every other shard, after
// the last Credit it will send before the update is over (messages from one
// sender arrive in order). A shard that has a Flush from every other shard
// for an update knows that no credit for it is on its way any more.
type Flush struct {
	UpdateID string
	From     int
}

// Audit asks a shard for its books; the reply is an *AuditReport.
type Audit struct{}

// AuditReport is a shard's books, in cents.
type AuditReport struct {
	Shard    int
	Version  uint32
	Accounts int
	// Balance is the sum of the shard's account balances.
	Balance int64
	// Pending counts transfers debited here whose credit is not acknowledged
	// yet; PendingCents is their amount.
	Pending      int
	PendingCents int64
	// Sent is what was debited here for other shards (less refunds),
	// Received what was credited here from other shards, Acked what other
	// shards acknowledged having credited.
	Sent, Received, Acked int64
	// Completed counts transfers debited here and credited at the other
	// end; Returned those refunded after a Nack; Strays acks or nacks for
	// no pending transfer (never, if no message is lost or duplicated).
	Completed, Returned, Strays int64
}

// Books is what a shard contributes to the bank's total: its balances plus
// what it sent minus what it received. Each shard's Books never change: a
// debit moves money from Balance to Sent, a credit from Received to
// Balance. So the sum over the shards is the bank's total whatever the
// moment each shard answers at, with transfers in flight.
func (r *AuditReport) Books() int64 { return r.Balance + r.Sent - r.Received }

// Dump asks a shard for a deep copy of its state (its behaviour value).
type Dump struct{}

// Arm makes the shard's next migration to version 3 fail with Reason: a
// fault injected to show an all-or-nothing group abort. The reply is
// *Armed.
type Arm struct{ Reason string }

// Armed answers Arm.
type Armed struct{}

// messages is every message a shard accepts, in every version.
var messages = []any{&Open{}, &Transfer{}, &Credit{}, &Ack{}, &Nack{}, &Flush{}, &Audit{}, &Dump{}, &Arm{}}

// Ledger is the transfer protocol's state, the same in every version, in
// cents: embedded in each version, it is carried by every migration. A
// shard debits the source account, records the transfer as pending, and
// sends Credit to the destination's shard, which credits and answers Ack;
// the pending transfer then completes. Money in flight is in the sender's
// Sent and not yet in the receiver's Received, so nothing is created or
// lost at any point, across updates too: a pending transfer is state, and
// the Credit or Ack of a transfer is a message, held by an update and
// delivered after it, never dropped.
//
// Ledger implements the update hooks for every version: a shard is stable
// when none of its transfers is pending and every other shard has sent
// its Flush (Quiescent); while it drains it admits credits, acks, flushes
// and audits, not new transfers (Admitter); told of an update, it sends
// its Flush (Notifiable). A bank update updates every shard, in one
// all-or-nothing group: a staged shard holds every message, so a shard
// must not stage while a credit it has to acknowledge is still on its way.
type Ledger struct {
	Shard, Shards int
	NextID        uint64
	Pending       map[uint64]Pending

	Sent, Received, Acked       int64
	Completed, Returned, Strays int64

	// Armed, if set, makes the migration to version 3 fail.
	Armed string

	drain drain // not state: empty outside an update
}

// Pending is a transfer debited here and not yet credited at the other end.
type Pending struct {
	From, To string
	Cents    int64
}

// drain is a shard's view of the update in progress: the one it was told
// of, and the Flush messages that came for each update.
type drain struct {
	update  string
	flushed map[string]map[int]bool
}

// accounts is what each version implements over its own storage: the
// accounts in its format.
type accounts interface {
	version() uint32
	open(name string, cents int64) error
	debit(name string, cents int64) error
	credit(name string, cents int64) error
	// totals returns the number of accounts and the sum of their balances.
	totals() (n int, cents int64)
	// snapshot returns a deep copy of the whole state.
	snapshot() actor.Actor
}

// clone returns a deep copy of the ledger, without the update in progress.
func (l *Ledger) clone() Ledger {
	c := *l
	c.drain = drain{}
	c.Pending = make(map[uint64]Pending, len(l.Pending))
	for id, p := range l.Pending {
		c.Pending[id] = p
	}
	return c
}

// receive is the protocol, over the accounts of the version that runs.
func (l *Ledger) receive(ctx actor.Context, a accounts) {
	switch m := ctx.Message().(type) {
	case *Open:
		l.Shard, l.Shards = m.Shard, m.Shards
		var errs []error
		for _, name := range m.Accounts {
			errs = append(errs, a.open(name, m.Cents))
		}
		reply := &Opened{}
		if err := errors.Join(errs...); err != nil {
			reply.Err = err.Error()
		}
		ctx.Respond(reply)
	case *Transfer:
		l.transfer(ctx, a, m)
	case *Credit:
		if err := a.credit(m.To, m.Cents); err != nil {
			ctx.Respond(&Nack{ID: m.ID, Reason: err.Error()})
			return
		}
		l.Received += m.Cents
		ctx.Respond(&Ack{ID: m.ID})
	case *Ack:
		p, ok := l.Pending[m.ID]
		if !ok {
			l.Strays++
			return
		}
		delete(l.Pending, m.ID)
		l.Acked += p.Cents
		l.Completed++
	case *Nack:
		p, ok := l.Pending[m.ID]
		if !ok {
			l.Strays++
			return
		}
		// The refund fits: it is the amount debited from this account.
		if err := a.credit(p.From, p.Cents); err != nil {
			l.Strays++
			return
		}
		delete(l.Pending, m.ID)
		l.Sent -= p.Cents
		l.Returned++
	case *Flush:
		if l.drain.flushed == nil {
			l.drain.flushed = map[string]map[int]bool{}
		}
		if l.drain.flushed[m.UpdateID] == nil {
			l.drain.flushed[m.UpdateID] = map[int]bool{}
		}
		l.drain.flushed[m.UpdateID][m.From] = true
	case *Audit:
		n, cents := a.totals()
		var pending int64
		for _, p := range l.Pending {
			pending += p.Cents
		}
		ctx.Respond(&AuditReport{
			Shard: l.Shard, Version: a.version(), Accounts: n, Balance: cents,
			Pending: len(l.Pending), PendingCents: pending,
			Sent: l.Sent, Received: l.Received, Acked: l.Acked,
			Completed: l.Completed, Returned: l.Returned, Strays: l.Strays,
		})
	case *Dump:
		ctx.Respond(a.snapshot())
	case *Arm:
		l.Armed = m.Reason
		ctx.Respond(&Armed{})
	case *update.Aborted:
		// The update is over; this version goes on.
		delete(l.drain.flushed, m.UpdateID)
		l.drain.update = ""
	}
}

func (l *Ledger) transfer(ctx actor.Context, a accounts, m *Transfer) {
	reply := &TransferReply{Version: a.version()}
	to := shardOf(m.To, l.Shards)
	switch {
	case m.Cents <= 0:
		reply.Refused = "the amount must be positive"
	case shardOf(m.From, l.Shards) != l.Shard:
		reply.Refused = fmt.Sprintf("%s is not on shard %d", m.From, l.Shard)
	case to < 0:
		reply.Refused = fmt.Sprintf("no account %q", m.To)
	default:
		if err := a.debit(m.From, m.Cents); err != nil {
			reply.Refused = err.Error()
		}
	}
	if reply.Refused != "" {
		ctx.Respond(reply)
		return
	}
	l.NextID++
	reply.ID = l.NextID
	if to == l.Shard {
		if err := a.credit(m.To, m.Cents); err != nil {
			_ = a.credit(m.From, m.Cents) // back where it came from
			reply.Refused = err.Error()
		} else {
			l.Completed++
		}
		ctx.Respond(reply)
		return
	}
	if l.Pending == nil {
		l.Pending = map[uint64]Pending{}
	}
	l.Pending[reply.ID] = Pending{From: m.From, To: m.To, Cents: m.Cents}
	l.Sent += m.Cents
	ctx.Request(shardPID(ctx.ActorSystem(), to), &Credit{ID: reply.ID, To: m.To, Cents: m.Cents})
	ctx.Respond(reply)
}

// UpdateComing implements update.Notifiable: this shard starts no transfer
// until the update is over (new transfers are held), so it tells every
// other shard that its last credit has gone.
func (l *Ledger) UpdateComing(ctx actor.Context, n *update.Notice) {
	l.drain.update = n.UpdateID
	for i := range l.Shards {
		if i != l.Shard {
			ctx.Send(shardPID(ctx.ActorSystem(), i), &Flush{UpdateID: n.UpdateID, From: l.Shard})
		}
	}
}

// Stable implements update.Quiescent: no transfer of this shard waits for
// its ack, and no credit for this shard is on its way (every other shard
// has flushed).
func (l *Ledger) Stable() bool {
	return len(l.Pending) == 0 && len(l.drain.flushed[l.drain.update]) >= l.Shards-1
}

// Admit implements update.Admitter: while the shard drains, the messages
// that settle transfers in flight go through, and audits (they change
// nothing); new transfers wait.
func (l *Ledger) Admit(message any) bool {
	switch message.(type) {
	case *Credit, *Ack, *Nack, *Flush, *Audit:
		return true
	}
	return false
}

// check is the ledger's invariant: the pending transfers are what was sent
// and not yet acknowledged.
func (l *Ledger) check() error {
	var pending int64
	for id, p := range l.Pending {
		if p.Cents <= 0 {
			return fmt.Errorf("pending transfer %d has amount %d", id, p.Cents)
		}
		pending += p.Cents
	}
	if pending != l.Sent-l.Acked {
		return fmt.Errorf("pending transfers add up to %s, but sent - acknowledged = %s", money(pending), money(l.Sent-l.Acked))
	}
	return nil
}

// The bank's layout: account i is named acc-0042 (for i = 42) and lives on
// shard i mod the number of shards, an actor named shard-2.

func accountName(i int) string { return fmt.Sprintf("acc-%04d", i) }

func shardName(i int) string { return "shard-" + strconv.Itoa(i) }

// shardOf returns the shard of an account, or -1 for a name that is not an
// account.
func shardOf(account string, shards int) int {
	n, err := strconv.Atoi(strings.TrimPrefix(account, "acc-"))
	if err != nil || n < 0 || shards <= 0 || !strings.HasPrefix(account, "acc-") {
		return -1
	}
	return n % shards
}

func shardPID(system *actor.ActorSystem, i int) *actor.PID {
	return actor.NewPID(system.Address(), shardName(i))
}

// money formats cents as units with two decimals and thousands separators:
// 1,234,567.89.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%s.%02d", sign, grouped(cents/100), cents%100)
}

// grouped formats n >= 0 with thousands separators.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
