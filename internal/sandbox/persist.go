package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is bumped when the file's shape changes incompatibly.
const stateVersion = 1

// state is the world as saved in Options.StateFile.
type state struct {
	Version   int                       `json:"version"`
	Epoch     uint32                    `json:"epoch"`
	Offset    time.Duration             `json:"clockOffset"`
	Seq       uint64                    `json:"seq"`
	Images    map[string]Image          `json:"images"`
	Subnets   []savedSubnet             `json:"subnets"`
	Templates map[string]LaunchTemplate `json:"launchTemplates"`
	Groups    map[string]string         `json:"securityGroups"`
	KeyPairs  map[string]string         `json:"keyPairs"`
	Params    map[string]string         `json:"ssmParameters"`
	Capacity  []CapacityLimit           `json:"capacity"`
	Quotas    Quotas                    `json:"quotas"`
	Instances []savedInstance           `json:"instances"`
	Tokens    map[string]savedToken     `json:"clientTokens"`
}

type savedSubnet struct {
	Subnet
	Next uint32   `json:"next"`
	Free []uint32 `json:"free,omitempty"`
}

type savedToken struct {
	Fingerprint   string   `json:"fingerprint"`
	ReservationID string   `json:"reservationId"`
	InstanceIDs   []string `json:"instanceIds"`
	Groups        []string `json:"groups"`
}

// savedInstance mirrors instance field by field.
type savedInstance struct {
	Seq           uint64    `json:"seq"`
	ID            string    `json:"id"`
	ReservationID string    `json:"reservationId"`
	ClientToken   string    `json:"clientToken,omitempty"`
	LaunchIndex   int       `json:"launchIndex"`
	ImageID       string    `json:"imageId"`
	InstanceType  string    `json:"instanceType"`
	Arch          string    `json:"arch"`
	SubnetID      string    `json:"subnetId"`
	Zone          string    `json:"zone"`
	VPCID         string    `json:"vpcId"`
	PrivateIP     string    `json:"privateIp"`
	PrivateDNS    string    `json:"privateDns"`
	KeyName       string    `json:"keyName,omitempty"`
	Groups        []string  `json:"groups"`
	IAMProfileArn string    `json:"iamProfileArn,omitempty"`
	TemplateID    string    `json:"templateId,omitempty"`
	EBSOptimized  bool      `json:"ebsOptimized,omitempty"`
	UserData      string    `json:"userData,omitempty"`
	Interfaces    []string  `json:"interfaces,omitempty"`
	Tags          []tag     `json:"tags,omitempty"`
	VolumeTags    []tag     `json:"volumeTags,omitempty"`
	SpotRequestID string    `json:"spotRequestId,omitempty"`
	SpotMaxPrice  string    `json:"spotMaxPrice,omitempty"`
	SpotTags      []tag     `json:"spotTags,omitempty"`
	Launched      time.Time `json:"launched"`
	Protected     bool      `json:"protected,omitempty"`
	TerminateAt   time.Time `json:"terminateAt,omitzero"`
	InterruptAt   time.Time `json:"interruptAt,omitzero"`
	InterruptFor  string    `json:"interruptReason,omitempty"`
}

func (in *instance) saved() savedInstance {
	return savedInstance{
		Seq: in.seq, ID: in.id, ReservationID: in.reservationID, ClientToken: in.clientToken,
		LaunchIndex: in.launchIndex, ImageID: in.imageID, InstanceType: in.instanceType, Arch: in.arch,
		SubnetID: in.subnetID, Zone: in.zone, VPCID: in.vpcID, PrivateIP: in.privateIP,
		PrivateDNS: in.privateDNS, KeyName: in.keyName, Groups: in.groups, IAMProfileArn: in.iamProfileArn,
		TemplateID: in.templateID, EBSOptimized: in.ebsOptimized, UserData: in.userData, Interfaces: in.interfaces, Tags: in.tags, VolumeTags: in.volumeTags,
		SpotRequestID: in.spotRequestID, SpotMaxPrice: in.spotMaxPrice, SpotTags: in.spotTags,
		Launched: in.launched, TerminateAt: in.terminateAt, InterruptAt: in.interruptAt, Protected: in.protected,
		InterruptFor: in.interruptReason,
	}
}

func (v savedInstance) instance() *instance {
	return &instance{
		seq: v.Seq, id: v.ID, reservationID: v.ReservationID, clientToken: v.ClientToken,
		launchIndex: v.LaunchIndex, imageID: v.ImageID, instanceType: v.InstanceType, arch: v.Arch,
		subnetID: v.SubnetID, zone: v.Zone, vpcID: v.VPCID, privateIP: v.PrivateIP,
		privateDNS: v.PrivateDNS, keyName: v.KeyName, groups: v.Groups, iamProfileArn: v.IAMProfileArn,
		templateID: v.TemplateID, ebsOptimized: v.EBSOptimized, userData: v.UserData, interfaces: v.Interfaces, tags: v.Tags, volumeTags: v.VolumeTags,
		spotRequestID: v.SpotRequestID, spotMaxPrice: v.SpotMaxPrice, spotTags: v.SpotTags,
		launched: v.Launched, terminateAt: v.TerminateAt, interruptAt: v.InterruptAt, protected: v.Protected,
		interruptReason: v.InterruptFor,
	}
}

// Save writes the world to path atomically (a temporary file renamed).
func (s *Sandbox) Save(path string) error {
	s.mu.RLock()
	w := &s.world
	st := state{
		Version: stateVersion, Epoch: s.epoch, Offset: time.Duration(s.offset.Load()), Seq: w.seq,
		Images: w.images, Templates: w.templates, Groups: w.groups, KeyPairs: w.keyPairs, Params: w.params,
		Tokens: make(map[string]savedToken, len(w.tokens)),
	}
	for _, id := range sortedKeys(w.subnets) {
		sn := w.subnets[id]
		st.Subnets = append(st.Subnets, savedSubnet{Subnet: sn.Subnet, Next: sn.next, Free: sn.free})
	}
	for k, n := range w.capacity {
		st.Capacity = append(st.Capacity, CapacityLimit{InstanceType: k.instanceType, Zone: k.zone, Remaining: n})
	}
	st.Quotas = w.quotas
	for _, in := range w.instances {
		st.Instances = append(st.Instances, in.saved())
	}
	for tok, t := range w.tokens {
		st.Tokens[tok] = savedToken{t.fingerprint, t.reservationID, t.instanceIDs, t.groups}
	}
	data, err := json.Marshal(st)
	s.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("sandbox: encode state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	return nil
}

// Load replaces the world with the one saved at path.
func (s *Sandbox) Load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("sandbox: load state: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("sandbox: load state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("sandbox: state %s has version %d, want %d", path, st.Version, stateVersion)
	}
	w := newWorld(s.opts)
	w.seq = st.Seq
	w.images, w.templates, w.groups, w.keyPairs, w.params = st.Images, st.Templates, st.Groups, st.KeyPairs, st.Params
	clear(w.subnets)
	for _, sn := range st.Subnets {
		if err := w.addSubnet(sn.Subnet, s.opts.Region); err != nil {
			return fmt.Errorf("sandbox: load state %s: %w", path, err)
		}
		w.subnets[sn.ID].next, w.subnets[sn.ID].free = sn.Next, sn.Free
	}
	w.quotas = st.Quotas
	for _, c := range st.Capacity {
		w.capacity[capKey{c.InstanceType, c.Zone}] = c.Remaining
	}
	for _, v := range st.Instances {
		in := v.instance()
		w.instances = append(w.instances, in)
		w.byID[in.id] = in
		if in.spotRequestID != "" {
			w.bySpotID[in.spotRequestID] = in
		}
	}
	for tok, t := range st.Tokens {
		w.tokens[tok] = &launchToken{t.Fingerprint, t.ReservationID, t.InstanceIDs, t.Groups}
	}
	defer s.update()()
	s.world = w
	s.recount()
	s.epoch = st.Epoch
	s.offset.Store(int64(st.Offset))
	return nil
}

// keepSaved saves the world to path within a second of each change until
// the returned func is called, which saves once more.
func (s *Sandbox) keepSaved(path string) (stop func()) {
	saved := s.version.Load()
	save := func() {
		v := s.version.Load()
		if v == saved {
			return
		}
		if err := s.Save(path); err != nil {
			s.opts.Logger.Error("sandbox state not saved", "path", path, "err", err)
			return
		}
		saved = v
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				save()
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		save()
	}
}
