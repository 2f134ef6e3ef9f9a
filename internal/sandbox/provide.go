package sandbox

import "fmt"

// Resources are AWS resources a rehearsal needs: what an administrator's
// templates name. Provide creates the ones the sandbox lacks.
type Resources struct {
	Images          []Image
	Subnets         []Subnet
	SecurityGroups  []string
	KeyPairs        []string
	LaunchTemplates []LaunchTemplate
	// ImageParameters are SSM parameters naming an image (an AMI alias);
	// a missing one is created together with its image.
	ImageParameters map[string]Image
}

// Provide creates every resource of r the sandbox does not have yet and
// returns one line per resource created, in a stable order. Resources it
// has are left as they are, so Provide may be called again.
func (s *Sandbox) Provide(r Resources) ([]string, error) {
	defer s.update()()
	var made []string
	for _, im := range r.Images {
		if _, ok := s.world.images[im.ID]; ok {
			continue
		}
		if err := s.world.addImage(im, s.opts.AccountID); err != nil {
			return made, err
		}
		made = append(made, fmt.Sprintf("image %s (%s)", im.ID, s.world.images[im.ID].Architecture))
	}
	for _, sn := range r.Subnets {
		if _, ok := s.world.subnets[sn.ID]; ok {
			continue
		}
		if err := s.world.addSubnet(sn, s.opts.Region); err != nil {
			return made, err
		}
		made = append(made, fmt.Sprintf("subnet %s (%s, %s)", sn.ID, s.world.subnets[sn.ID].Zone, s.world.subnets[sn.ID].CIDR))
	}
	for _, id := range r.SecurityGroups {
		if _, ok := s.world.groups[id]; ok {
			continue
		}
		if err := validPrefix(id, "sg-", "security group"); err != nil {
			return made, err
		}
		s.world.groups[id] = id
		made = append(made, "security group "+id)
	}
	for _, name := range r.KeyPairs {
		if _, ok := s.world.keyPairs[name]; ok || name == "" {
			continue
		}
		s.world.keyPairs[name] = fmt.Sprintf("key-%017x", len(s.world.keyPairs)+1)
		made = append(made, "key pair "+name)
	}
	for _, lt := range r.LaunchTemplates {
		if _, ok := s.world.templates[lt.ID]; ok {
			continue
		}
		if err := validPrefix(lt.ID, "lt-", "launch template"); err != nil {
			return made, err
		}
		s.world.templates[lt.ID] = lt
		made = append(made, fmt.Sprintf("launch template %s (%d versions)", lt.ID, max(lt.Versions, 1)))
	}
	for _, name := range sortedKeys(r.ImageParameters) {
		if _, ok := s.world.params[name]; ok {
			continue
		}
		im := r.ImageParameters[name]
		if err := s.world.addImage(im, s.opts.AccountID); err != nil {
			return made, err
		}
		s.world.params[name] = im.ID
		made = append(made, fmt.Sprintf("SSM parameter %s = %s (%s)", name, im.ID, s.world.images[im.ID].Architecture))
	}
	return made, nil
}

func validPrefix(id, prefix, what string) error {
	if len(id) <= len(prefix) || id[:len(prefix)] != prefix {
		return fmt.Errorf("sandbox: %s id %q does not start with %s", what, id, prefix)
	}
	return nil
}

// InstanceTypeArchitectures lists the architectures an instance type runs
// (x86_64, arm64); false when the sandbox does not know the type.
func InstanceTypeArchitectures(name string) ([]string, bool) {
	t, ok := typesByName[name]
	return t.Archs, ok
}
