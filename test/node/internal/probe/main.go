//go:build linux

// Command probe is the program of the node test's hardened pod. It looks at
// its own process and files from inside the container and reports what it
// finds, so that the test asserts the hardening from the pod's side:
//
//	probe init FILE                  write a greeting to FILE (an emptyDir)
//	probe check FILE SECRET MESSAGE  read FILE and SECRET, look at the
//	                                 process, write the report as JSON to
//	                                 MESSAGE (the termination message path)
//
// It reports rather than judges: the test knows what to expect.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Greeting is what init writes and check reads back.
const Greeting = "hello from the init container"

// Report is the termination message check writes.
type Report struct {
	UID          int    `json:"uid"`
	GID          int    `json:"gid"`
	CapEff       string `json:"capEff"`
	NoNewPrivs   string `json:"noNewPrivs"`
	Seccomp      string `json:"seccomp"`
	RootReadOnly bool   `json:"rootReadOnly"`
	RootWriteErr string `json:"rootWriteErr,omitempty"`
	FromInit     string `json:"fromInit"`
	Secret       string `json:"secret"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "init":
		if err := os.WriteFile(args[1], []byte(Greeting), 0o644); err != nil {
			return err
		}
		fmt.Printf("init: wrote %q to %s as uid %d\n", Greeting, args[1], os.Getuid())
		return nil
	case len(args) == 4 && args[0] == "check":
		return check(args[1], args[2], args[3])
	default:
		return fmt.Errorf("usage: probe init FILE | probe check FILE SECRET MESSAGE (got %q)", args)
	}
}

func check(file, secret, message string) error {
	r := Report{UID: os.Getuid(), GID: os.Getgid()}
	status, err := procStatus()
	if err != nil {
		return err
	}
	r.CapEff, r.NoNewPrivs, r.Seccomp = status["CapEff"], status["NoNewPrivs"], status["Seccomp"]
	// A read-only root filesystem refuses a new file at its top.
	if err := os.WriteFile("/probe-was-here", nil, 0o644); err != nil {
		r.RootReadOnly, r.RootWriteErr = true, err.Error()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	r.FromInit = string(b)
	if b, err = os.ReadFile(secret); err != nil {
		return err
	}
	r.Secret = string(b)
	out, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.WriteFile(message, out, 0o644); err != nil {
		return fmt.Errorf("writing the termination message: %w", err)
	}
	fmt.Printf("check: uid=%d gid=%d CapEff=%s NoNewPrivs=%s Seccomp=%s rootReadOnly=%s\n",
		r.UID, r.GID, r.CapEff, r.NoNewPrivs, r.Seccomp, strconv.FormatBool(r.RootReadOnly))
	fmt.Printf("check: read %q from the init container\n", r.FromInit)
	return nil
}

// procStatus reads the fields of /proc/self/status.
func procStatus() (map[string]string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fields := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields, sc.Err()
}
