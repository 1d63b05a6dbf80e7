package dialplan

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestALazyDeadlineArmsOnlyWhenWaitedOn(t *testing.T) {
	at := time.Now().Add(30 * time.Millisecond)
	ctx, stop := withLazyDeadline(context.Background(), at)
	defer stop()
	if d, ok := ctx.Deadline(); !ok || !d.Equal(at) {
		t.Errorf("Deadline() = %v, %v", d, ok)
	}
	if ctx.(*lazyDeadline).ctx != nil {
		t.Fatal("the timer was armed before anything waited")
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done never closed")
	}
	if time.Now().Before(at) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("ended at %v (deadline %v) with %v", time.Now(), at, ctx.Err())
	}
}

func TestALazyDeadlineThatPassedUnwatchedReportsIt(t *testing.T) {
	ctx, stop := withLazyDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer stop()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() = %v", ctx.Err())
	}
}

type key struct{}

func TestALazyDeadlineFollowsItsParentAndStop(t *testing.T) {
	parent, cancel := context.WithTimeout(context.WithValue(context.Background(), key{}, "v"), time.Hour)
	late := time.Now().Add(2 * time.Hour)
	ctx, stop := withLazyDeadline(parent, late)
	defer stop()
	if d, _ := ctx.Deadline(); !d.Before(late) || ctx.Value(key{}) != "v" {
		t.Errorf("Deadline() = %v, Value = %v: want the parent's", d, ctx.Value(key{}))
	}
	cancel()
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after the parent's cancel: %v", ctx.Err())
	}

	ctx, stop = withLazyDeadline(context.Background(), late)
	stop()
	select {
	case <-ctx.Done():
	default:
		t.Error("stop left Done open")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after stop: %v", ctx.Err())
	}
}
