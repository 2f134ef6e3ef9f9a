package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The launch template calls. Templates have one version, 1, which is also
// $Latest and $Default.

func (s *Sandbox) createLaunchTemplate(c *call) error {
	p := c.form
	name := p.get("LaunchTemplateName")
	if len(name) < 3 || len(name) > 128 || strings.ContainsFunc(name, func(r rune) bool {
		return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()./_-", r)
	}) {
		return badParam("Launch template name must be between 3 and 128 characters, and may contain only letters, numbers and ( ) . / - _: '%s'", name)
	}
	const d = "LaunchTemplateData."
	if err := checkClientToken(p, "ClientToken"); err != nil {
		return err
	}
	if err := checkUserData(p, d+"UserData"); err != nil {
		return err
	}
	lt := LaunchTemplate{
		Name:             name,
		ImageID:          p.get(d + "ImageId"),
		InstanceType:     p.get(d + "InstanceType"),
		KeyName:          p.get(d + "KeyName"),
		SecurityGroupIDs: p.list(d + "SecurityGroupId"),
		SubnetID:         p.get(d + "NetworkInterface.1.SubnetId"),
		Zone:             p.get(d + "Placement.AvailabilityZone"),
		Spot:             p.get(d+"InstanceMarketOptions.MarketType") == "spot",
		MaxPrice:         p.get(d + "InstanceMarketOptions.SpotOptions.MaxPrice"),
		UserData:         p.get(d + "UserData"),
		EBSOptimized:     p.boolean(d + "EbsOptimized"),
		Created:          c.now,
	}
	if len(lt.SecurityGroupIDs) == 0 {
		lt.SecurityGroupIDs = p.list(d + "NetworkInterface.1.SecurityGroupId")
	}
	switch arn, name := p.get(d+"IamInstanceProfile.Arn"), p.get(d+"IamInstanceProfile.Name"); {
	case arn != "":
		lt.IAMInstanceProfile = arn
	case name != "":
		lt.IAMInstanceProfile = s.profileArn(name)
	}
	data, err := p.tagSpecs(d+"TagSpecification", "instance", "volume", "spot-instances-request", "network-interface")
	if err != nil {
		return err
	}
	lt.InstanceTags, lt.VolumeTags = tagMap(data["instance"]), tagMap(data["volume"])
	own, err := p.tagSpecs("TagSpecification", "launch-template")
	if err != nil {
		return err
	}
	lt.Tags = tagMap(own["launch-template"])

	defer s.update()()
	w := &s.world
	for _, t := range w.templates {
		if t.Name == name {
			return badParamCode("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
		}
	}
	// What the template names must exist, as EC2 checks at creation.
	if _, ok := w.images[lt.ImageID]; lt.ImageID != "" && !ok {
		return badParamCode("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", lt.ImageID)
	}
	if _, ok := instanceTypeByName(lt.InstanceType); lt.InstanceType != "" && !ok {
		return badParam("Invalid value '%s' for InstanceType.", lt.InstanceType)
	}
	w.seq++
	lt.ID = fmt.Sprintf("lt-%08x%09x", s.epoch, w.seq)
	w.templates[lt.ID] = lt
	ec2Reply(c, func(x xmlw) { s.writeTemplate(x, "launchTemplate", lt) })
	return nil
}

func (s *Sandbox) writeTemplate(x xmlw, element string, lt LaunchTemplate) {
	x.open(element)
	x.str("launchTemplateId", lt.ID)
	x.str("launchTemplateName", lt.Name)
	x.time("createTime", lt.Created)
	x.str("createdBy", "arn:aws:iam::"+s.opts.AccountID+":root")
	x.int("defaultVersionNumber", 1)
	x.int("latestVersionNumber", int64(max(lt.Versions, 1)))
	x.tagSet(tagList(lt.Tags))
	x.close(element)
}

var templateFilters = map[string]field[LaunchTemplate]{
	"launch-template-name": func(_ *Sandbox, lt LaunchTemplate, _ time.Time) string { return lt.Name },
	"create-time": func(_ *Sandbox, lt LaunchTemplate, _ time.Time) string {
		return lt.Created.UTC().Format("2006-01-02T15:04:05.000Z")
	},
}

func (s *Sandbox) describeLaunchTemplates(c *call) error {
	preds, err := predicates(c, templateFilters, func(lt LaunchTemplate) []tag { return tagList(lt.Tags) })
	if err != nil {
		return err
	}
	for _, id := range c.form.list("LaunchTemplateId") {
		if !strings.HasPrefix(id, "lt-") {
			return badParamCode("InvalidLaunchTemplateId.Malformed", "The launch template ID '%s' is malformed.", id)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := make([]LaunchTemplate, 0, len(s.world.templates))
	for _, id := range sortedKeys(s.world.templates) {
		all = append(all, s.world.templates[id])
	}
	list, err := pick(all, func(lt LaunchTemplate) string { return lt.ID }, c.form.list("LaunchTemplateId"), func(ids string) error {
		return badParamCode("InvalidLaunchTemplateId.NotFound", "At least one of the launch templates specified in the request does not exist: %s", ids)
	})
	if err != nil {
		return err
	}
	if list, err = pick(list, func(lt LaunchTemplate) string { return lt.Name }, c.form.list("LaunchTemplateName"), func(names string) error {
		return badParamCode("InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist: %s", names)
	}); err != nil {
		return err
	}
	return describe(s, c, list, preds, "launchTemplates", 200, func(x xmlw, lt LaunchTemplate) { s.writeTemplate(x, "item", lt) })
}

func (s *Sandbox) deleteLaunchTemplate(c *call) error {
	id, name := c.form.get("LaunchTemplateId"), c.form.get("LaunchTemplateName")
	if id == "" && name == "" {
		return apiErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter LaunchTemplateId or LaunchTemplateName")
	}
	defer s.update()()
	lt, err := s.world.template(id, name)
	if err != nil {
		return err
	}
	delete(s.world.templates, lt.ID)
	ec2Reply(c, func(x xmlw) { s.writeTemplate(x, "launchTemplate", lt) })
	return nil
}
