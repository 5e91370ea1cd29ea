package harness

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Environment is the machine and build a run measured: what a figure means
// depends on it.
type Environment struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// Commit is the git commit of the code measured, "unknown" if neither
	// git nor the build information says; Modified says whether tracked
	// files differed from it.
	Commit   string `json:"commit"`
	Modified bool   `json:"modified"`
	// Time is when the run started, UTC, RFC 3339.
	Time string `json:"time"`
}

// CurrentEnvironment describes this process: Go version, CPU model (from
// /proc/cpuinfo or sysctl, "unknown" elsewhere), GOMAXPROCS as set now, and
// the git commit of the working directory (git rev-parse HEAD), or else the
// vcs.revision the binary was built with.
func CurrentEnvironment() *Environment {
	env := &Environment{
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		CPU:        cpuModel(),
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Commit:     "unknown",
		Time:       time.Now().UTC().Format(time.RFC3339),
	}
	if commit, ok := gitOutput("rev-parse", "HEAD"); ok && commit != "" {
		env.Commit = commit
		status, _ := gitOutput("status", "--porcelain", "--untracked-files=no")
		env.Modified = status != ""
	} else if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				env.Commit = s.Value
			case "vcs.modified":
				env.Modified = s.Value == "true"
			}
		}
	}
	return env
}

// gitOutput runs git with args in the working directory and returns its
// trimmed output, and whether it succeeded within five seconds.
func gitOutput(args ...string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(out)), true
}

func cpuModel() string {
	switch runtime.GOOS {
	case "linux", "android":
		if model := cpuinfoModel(); model != "" {
			return model
		}
	case "darwin", "freebsd":
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "sysctl", "-n", "machdep.cpu.brand_string").Output(); err == nil {
			if model := strings.TrimSpace(string(out)); model != "" {
				return model
			}
		}
		if out, err := exec.CommandContext(ctx, "sysctl", "-n", "hw.model").Output(); err == nil {
			if model := strings.TrimSpace(string(out)); model != "" {
				return model
			}
		}
	}
	return "unknown"
}

// cpuinfoModel reads the first model name of /proc/cpuinfo ("Processor" or
// "CPU part" on some ARM kernels).
func cpuinfoModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	fallback := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "model name":
			return value
		case "Processor", "Hardware", "CPU part":
			if fallback == "" {
				fallback = value
			}
		}
	}
	return fallback
}
