package controller

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func TestCreatedPolecats(t *testing.T) {
	g := NewWithT(t)
	polecats := func(names ...string) []gastownv1.Polecat {
		var out []gastownv1.Polecat
		for _, n := range names {
			out = append(out, gastownv1.Polecat{ObjectMeta: metav1.ObjectMeta{Name: n}})
		}
		return out
	}
	c := NewCreatedPolecats()
	g.Expect(c.Shown("rig", nil)).To(BeTrue(), "nothing made: any cache will do")
	c.Add("rig", "a")
	c.Add("rig", "b")
	c.Add("other", "x")
	g.Expect(c.Shown("rig", polecats("a"))).To(BeFalse(), "b not seen yet")
	g.Expect(c.Shown("rig", polecats("b"))).To(BeTrue(), "a was seen before")
	g.Expect(c.Shown("other", nil)).To(BeFalse(), "one rig's record is its own")

	// x is deleted before the cache sees it: the API server's list says so.
	c.Add("other", "y")
	c.Confirmed("other", polecats("y"))
	g.Expect(c.Shown("other", nil)).To(BeFalse(), "y exists: still waited for")
	g.Expect(c.Shown("other", polecats("y"))).To(BeTrue(), "x is no longer waited for")

	var none *CreatedPolecats
	none.Add("rig", "a")
	none.Confirmed("rig", nil)
	g.Expect(none.Shown("rig", polecats("a"))).To(BeFalse(), "no record: no cache is trusted")
}
