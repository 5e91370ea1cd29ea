package remotestop

import "testing"

func TestGraceful(t *testing.T) {
	closed := func() {
		c := make(chan bool, 1)
		close(c)
		c <- true // the upstream race, as the runtime reports it
	}
	tests := []struct {
		name       string
		stop       func()
		wantKill   bool
		wantPanics bool
	}{
		{"a clean stop", func() {}, false, false},
		{"the race", closed, true, false},
		{"another panic", func() { panic("something else") }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			killed := false
			panicked := func() (p any) {
				defer func() { p = recover() }()
				graceful(tt.stop, func() { killed = true })
				return nil
			}()
			if killed != tt.wantKill {
				t.Errorf("kill called: %v, want %v", killed, tt.wantKill)
			}
			if (panicked != nil) != tt.wantPanics {
				t.Errorf("panicked with %v; want a panic: %v", panicked, tt.wantPanics)
			}
		})
	}
}
