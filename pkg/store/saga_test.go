package store

import (
	"path/filepath"
	"testing"
)

func TestSagaStepSurvivesReopenAndClears(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := mustOpenAt(t, path, Options{})
	key := userKey(1)
	if _, ok, err := db.SagaStep(key, "create"); ok || err != nil {
		t.Fatalf("fresh store: saga in progress %v, err %v", ok, err)
	}
	if err := db.SetSagaStep(key, SagaStep{Saga: "create", Step: "copy-subresources", Data: "template.agent"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSagaStep(key, SagaStep{Saga: "alias", Step: "remove"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenAt(t, path, Options{})
	s, ok, err := db.SagaStep(key, "create")
	if err != nil || !ok || s.Step != "copy-subresources" || s.Data != "template.agent" || s.At.IsZero() {
		t.Fatalf("after reopen: %+v %v %v", s, ok, err)
	}
	if steps, err := db.SagaSteps(key); err != nil || len(steps) != 2 {
		t.Errorf("SagaSteps = %+v, %v; want the create and alias sagas", steps, err)
	}
	if steps, _ := db.SagaSteps(userKey(2)); len(steps) != 0 {
		t.Errorf("another user's sagas: %+v", steps)
	}
	if err := db.ClearSaga(key, "create"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.SagaStep(key, "create"); ok {
		t.Error("create saga still in progress after ClearSaga")
	}
	if s, ok, _ := db.SagaStep(key, "alias"); !ok || s.Step != "remove" {
		t.Error("clearing one saga cleared another")
	}
	if err := db.SetSagaStep(key, SagaStep{Saga: "create"}); err == nil {
		t.Error("a step without a name was accepted")
	}
}
