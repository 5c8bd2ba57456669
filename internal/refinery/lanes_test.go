package refinery

import (
	"slices"
	"testing"
)

func TestLanesLetOneMergeAtATimeIntoATarget(t *testing.T) {
	var l Lanes[string]
	if _, ok := l.Enter("org/app:main", "a"); !ok {
		t.Fatal("a free lane was refused")
	}
	if _, ok := l.Enter("org/app:main", "a"); !ok {
		t.Fatal("the holder was refused its own lane")
	}
	if _, ok := l.Enter("org/app:release", "b"); !ok {
		t.Fatal("another target's lane is its own")
	}
	for range 2 { // asking twice waits once
		if holder, ok := l.Enter("org/app:main", "c"); ok || holder != "a" {
			t.Fatalf("Enter = %q, %v; want a, false", holder, ok)
		}
	}
	if got := l.Leave("org/app:main", "c"); got != nil {
		t.Fatalf("a waiter that holds nothing freed %v", got)
	}
	if got := l.Leave("org/app:main", "a"); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("Leave woke %v, want [c]", got)
	}
	if _, ok := l.Enter("org/app:main", "c"); !ok {
		t.Fatal("the freed lane was refused")
	}
	if got := l.Leave("org/app:main", "c"); got != nil {
		t.Fatalf("Leave woke %v, want none", got)
	}
}
