package hf

import (
	"encoding/json"
	"testing"

	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/store"
)

// TestStatusLSFFields: a machine carries LSF's fields, named as IBM's LSF
// plugins name them, only when the broker gives them.
func TestStatusLSFFields(t *testing.T) {
	m := store.Machine{InstanceID: "i-1", Name: "ip-1", State: "running"}
	plain := broker.MachineStatus{Machine: m, Result: store.ResultSucceed}
	lsf := plain
	lsf.LSF = &broker.LSFMachine{RCAccount: "proj-a", Cores: 2, Threads: 4, LifeCycle: broker.LifeCycleSpot}
	for _, tc := range []struct {
		ms   broker.MachineStatus
		want string
	}{
		{plain, `{"machineId":"i-1","name":"ip-1","result":"succeed","status":"running","privateIpAddress":"","publicIpAddress":"","launchtime":0,"message":""}`},
		{lsf, `{"machineId":"i-1","name":"ip-1","result":"succeed","status":"running","privateIpAddress":"","publicIpAddress":"","launchtime":0,"message":"","rcAccount":"proj-a","ncores":2,"nthreads":4,"publicDnsName":"","lifeCycleType":"spot"}`},
	} {
		out := encodeStatus([]broker.RequestStatus{{ID: "req-1", Status: store.StateComplete, Machines: []broker.MachineStatus{tc.ms}}})
		got, err := json.Marshal(out.Requests[0].Machines[0])
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("machine\n got %s\nwant %s", got, tc.want)
		}
	}
}
