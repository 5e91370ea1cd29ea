package actor

import (
	"testing"

	"github.com/molt-go/molt/mailbox"
	"github.com/molt-go/molt/update"
)

// TestInProcessUpdateKeepsItsOrder: node.Update's call takes the lane its
// request asks for, as the UpdateActor itself would.
func TestInProcessUpdateKeepsItsOrder(t *testing.T) {
	for _, tc := range []struct {
		order   update.Order
		control bool
	}{
		{update.Order_ORDER_OVERTAKE, true},
		{update.Order_ORDER_IN_ORDER, false},
	} {
		req := &update.UpdateActor{ToVersion: 2, Order: tc.order}
		if got := mailbox.IsControl(&call{req: req}); got != tc.control {
			t.Errorf("a call with %v: on the control lane %v, want %v", tc.order, got, tc.control)
		}
		if got := mailbox.IsControl(req); got != tc.control {
			t.Errorf("an UpdateActor with %v: on the control lane %v, want %v", tc.order, got, tc.control)
		}
	}
}
