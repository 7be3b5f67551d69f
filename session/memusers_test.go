package session

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// checkUserIndex fails t unless the index's map and heap hold the same
// lists, each at its place in the heap.
func checkUserIndex(t *testing.T, s *MemoryStore) {
	t.Helper()
	if len(s.users) != len(s.userEnds) {
		t.Fatalf("the user index maps %d users and orders %d", len(s.users), len(s.userEnds))
	}
	for i, l := range s.userEnds {
		if l.heap != i || s.users[l.name] != l {
			t.Fatalf("user %q: at %d in the heap, its list says %d, the map has it: %v", l.name, i, l.heap, s.users[l.name] == l)
		}
	}
}

// A user whose listings have all ended leaves the index, even if they
// never come back: a site's index holds the users of the last sessions'
// lifetime, not every user since the proxy started.
func TestMemoryStoreUserIndexForgetsEndedUsers(t *testing.T) {
	ctx := t.Context()
	clock := &clock{time.Unix(1_800_000_000, 0)}
	s := NewMemoryStore(MemoryOptions{Now: clock.now})
	const gone = 1000
	for i := range gone {
		if err := s.AddUser(ctx, fmt.Sprint("user-", i), fmt.Sprint("id-", i), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddUser(ctx, "stays", "id-stays", time.Hour); err != nil {
		t.Fatal(err)
	}
	checkUserIndex(t, s)
	clock.t = clock.t.Add(2 * time.Minute)

	for i := range gone/expiredPerWrite + 1 {
		if err := s.AddUser(ctx, "newcomer", fmt.Sprint("new-", i), time.Hour); err != nil {
			t.Fatal(err)
		}
		if i == 0 && len(s.users) != gone+2-expiredPerWrite {
			t.Fatalf("after one listing the index holds %d users, want %d: a listing drops %d ended users", len(s.users), gone+2-expiredPerWrite, expiredPerWrite)
		}
	}
	checkUserIndex(t, s)
	if len(s.users) != 2 {
		t.Fatalf("the index still holds %d users, want the 2 whose listings have not ended", len(s.users))
	}
	for user, want := range map[string]int{"stays": 1, "newcomer": gone/expiredPerWrite + 1, "user-0": 0} {
		if list, err := s.UserSessions(ctx, user); err != nil || len(list) != want {
			t.Errorf("UserSessions(%s): %d sessions, %v; want %d", user, len(list), err, want)
		}
	}
}

// A user who signs in again and again keeps a list the size of their
// sessions that have not ended, not of every sign-in.
func TestMemoryStoreUserListStaysSmall(t *testing.T) {
	ctx := t.Context()
	clock := &clock{time.Unix(1_800_000_000, 0)}
	s := NewMemoryStore(MemoryOptions{Now: clock.now})
	if err := s.AddUser(ctx, "kiosk", "long-lived", 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	longest := 0
	for i := range 10_000 {
		if err := s.AddUser(ctx, "kiosk", fmt.Sprint("id-", i), time.Second); err != nil {
			t.Fatal(err)
		}
		longest = max(longest, len(s.users["kiosk"].until))
		clock.t = clock.t.Add(2 * time.Second)
	}
	if most := 2*2 + sweepSlack; longest > most {
		t.Errorf("the user's list grew to %d listings with at most 2 not ended, want at most %d", longest, most)
	}
	list, err := s.UserSessions(ctx, "kiosk")
	if err != nil || len(list) != 1 || list[0].Ref != "long-lived" {
		t.Errorf("UserSessions = %v, %v; want the one listing that has not ended", list, err)
	}
	checkUserIndex(t, s)
}

// Taking a user's last session off their list takes the user off the
// index, map and heap alike.
func TestMemoryStoreUserIndexRemove(t *testing.T) {
	ctx := t.Context()
	s := NewMemoryStore(MemoryOptions{})
	for _, u := range []string{"a", "b", "c"} {
		for _, id := range []string{"1", "2"} {
			if err := s.AddUser(ctx, u, u+id, time.Duration(len(u)+len(id))*time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, step := range []struct{ user, id string }{{"b", "b1"}, {"b", "b2"}, {"a", "a2"}, {"c", "c1"}, {"c", "c2"}} {
		if err := s.RemoveUser(ctx, step.user, step.id); err != nil {
			t.Fatal(err)
		}
		checkUserIndex(t, s)
	}
	if _, ok := s.users["a"]; !ok || len(s.users) != 1 {
		t.Errorf("after the removals the index holds %d users, want only a", len(s.users))
	}
}

// BenchmarkMemoryStoreAddUser lists a session under a user who already
// has n listings (a shared or kiosk account, a client signing in again
// and again), none ended: the cost should not grow with n, as it does
// while a list is swept only when it has doubled. Sweeping the whole list
// on every listing, under the store's lock, takes 13 µs at 1,000 listings
// and 0.73 ms at 100,000.
//
//	go test ./session -run '^$' -bench MemoryStoreAddUser -benchtime 20000x
func BenchmarkMemoryStoreAddUser(b *testing.B) {
	for _, n := range []int{1, 1000, 100_000} {
		b.Run(fmt.Sprintf("listings=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s := NewMemoryStore(MemoryOptions{})
			for i := range n {
				_ = s.AddUser(ctx, "kiosk", fmt.Sprint("id-", i), time.Hour)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.AddUser(ctx, "kiosk", "id-0", time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A user with more sessions than UserSessions copies under one hold of
// the lock gets every one listed, each with its own record, across the
// batches.
func TestMemoryStoreUserSessionsInBatches(t *testing.T) {
	ctx := t.Context()
	s := NewMemoryStore(MemoryOptions{})
	const n = 3*userBatch + 5
	for i := range n {
		id := fmt.Sprint("id-", i)
		if err := s.Save(ctx, id, fmt.Appendf(nil, `{"i":%d}`, i), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.AddUser(ctx, "kiosk", id, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.UserSessions(ctx, "kiosk")
	if err != nil || len(list) != n {
		t.Fatalf("UserSessions: %d listed, %v; want %d", len(list), err, n)
	}
	seen := map[string]bool{}
	for _, l := range list {
		var i int
		if _, err := fmt.Sscanf(l.Ref, "id-%d", &i); err != nil || seen[l.Ref] {
			t.Fatalf("listed %q: %v, or twice", l.Ref, err)
		}
		seen[l.Ref] = true
		if want := fmt.Sprintf(`{"i":%d}`, i); string(l.Record) != want {
			t.Errorf("%s listed with %s, want %s", l.Ref, l.Record, want)
		}
	}
}

// BenchmarkMemoryStoreUserSessions lists the sessions of a user with n of
// them, with their records (a signed-in user's), while another goroutine
// loads a session of someone else again and again: ns/op is the listing,
// and max-load-µs the longest of those loads, which waited for the
// store's lock while the listing held it. Run it on two CPUs, so that
// the loads wait for the lock rather than for the CPU.
//
//	go test ./session -run '^$' -bench MemoryStoreUserSessions -benchtime 20x -cpu 2
func BenchmarkMemoryStoreUserSessions(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s := NewMemoryStore(MemoryOptions{MaxEntries: n + 1})
			rec := appendRecord(nil, scaleUser(0), DefaultMaxAge, time.Now(), stamps{})
			for i := range n {
				id := fmt.Sprint("id-", i)
				_ = s.Save(ctx, id, rec, time.Hour)
				_ = s.AddUser(ctx, "kiosk", id, time.Hour)
			}
			_ = s.Save(ctx, "someone else", rec, time.Hour)
			stop := make(chan struct{})
			longest := make(chan time.Duration)
			go func() {
				var most time.Duration
				for {
					select {
					case <-stop:
						longest <- most
						return
					default:
					}
					start := time.Now()
					_, _, _ = s.Load(ctx, "someone else")
					most = max(most, time.Since(start))
				}
			}()
			for b.Loop() {
				list, err := s.UserSessions(ctx, "kiosk")
				if err != nil || len(list) != n {
					b.Fatalf("UserSessions: %d listed, %v", len(list), err)
				}
			}
			close(stop)
			b.ReportMetric(float64((<-longest).Microseconds()), "max-load-µs")
		})
	}
}
