//go:build !unix

package harness

import "os/exec"

// killGroup bounds how long cmd's output is waited for once it is killed;
// without process groups, only cmd itself is killed on cancellation.
func killGroup(cmd *exec.Cmd) {
	cmd.WaitDelay = waitDelay
}
