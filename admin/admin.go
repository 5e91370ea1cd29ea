package admin

import (
	"errors"
	"fmt"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
)

// ErrNameTaken is wrapped by Spawn's error when an actor already has the
// admin's name on the node.
var ErrNameTaken = errors.New("admin: name taken")

// Admin is a running admin actor.
type Admin struct {
	pid  *pa.PID
	node *molt.Node
}

// Spawn starts the node's admin actor under cfg.Name (DefaultName if
// empty) and returns once it runs. m is the node's update manager, which
// package requests and event subscriptions go through; with a nil m they
// are refused. The admin subscribes itself to m before Spawn returns, so
// that a Subscribe answered by the admin holds for every later event.
//
// Spawn returns Config.Validate's error, an error wrapping ErrNameTaken,
// or the manager's refusal of the subscription; nothing runs then.
func Spawn(node *molt.Node, m *manager.Manager, cfg Config) (*Admin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a := newAdminActor(node, m, cfg)
	props := pa.PropsFromProducer(func() pa.Actor { return a }, pa.WithDispatcher(node.Dispatcher()))
	pid, err := node.Root().SpawnNamed(props, cfg.Name)
	if err != nil {
		if errors.Is(err, pa.ErrNameExists) {
			return nil, fmt.Errorf("%w: an actor named %q runs on the node already", ErrNameTaken, cfg.Name)
		}
		return nil, fmt.Errorf("admin: spawn %q: %w", cfg.Name, err)
	}
	if m != nil {
		res, err := node.Root().RequestFuture(m.PID(), &manager.Subscribe{Subscriber: update.RefOf(pid)}, cfg.ManagerTimeout).Result()
		if _, ok := res.(*manager.Subscribed); !ok || err != nil {
			_ = node.Root().StopFuture(pid).Wait()
			if err == nil {
				err = fmt.Errorf("it answered %v", res)
			}
			return nil, fmt.Errorf("admin: the update manager refused the admin's subscription to its events: %w", err)
		}
	}
	return &Admin{pid: pid, node: node}, nil
}

// PID returns the admin actor's PID.
func (a *Admin) PID() *pa.PID { return a.pid }

// Stop stops the admin actor and waits until it has stopped (at most ten
// seconds, protoactor's stop timeout); its name is then free.
func (a *Admin) Stop() {
	_ = a.node.Root().StopFuture(a.pid).Wait()
}
