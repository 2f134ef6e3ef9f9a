package config

import (
	"bytes"
	"strings"

	"github.com/ohfp/ohfp/internal/fault"
)

// ibmKey is a key of IBM's LSF AWS plugins (IBMSpectrumComputing/
// cloud-provider-plugins, hostProviders/aws and awsv2) that ohfp does not
// read, and what ohfp does when a file gives it under LSF: refuse it, or
// report it as not applicable. Under Symphony every such key is reported.
type ibmKey struct {
	key, where string
	// refusal, when set, is why the key fails its file (the config) or
	// its template under LSF: ignoring it would change cost or placement.
	// harmless says which values change nothing and pass (nil: none).
	refusal  string
	harmless func(raw []byte) bool
	about    string // what IBM's plugin does with it, and what ohfp does
}

var ibmKeys = []ibmKey{
	{key: "AWS_TAG_InstanceID", where: "awsprov_config.json", harmless: isFalse,
		refusal: "ohfp does not tag instances and volumes with their own id (it tags them at launch with the request, template, provider and RC_ACCOUNT); remove the key or set it to false",
		about:   "`true` tags each instance and its volumes `InstanceID=<instance id>` once it runs (`AwsImpl.updateStatus`, `aws_client.py` `_tag_instance_with_instance_id`). ohfp does not: it tags at launch, with the request, template, provider and `RC_ACCOUNT`."},
	{key: "ec2FleetConfig", where: "awsprov_templates.json",
		refusal: "ohfp does not send a CreateFleet request from a file; write the fleet as template fields (providerApi EC2Fleet, fleetType, vmTypes, allocationStrategy, percentOnDemand, launchTemplateId), see docs/lsf.md",
		about:   "A file holding a whole CreateFleet request, with `$LSF_TOTAL_TARGET_CAPACITY`, `$LSF_ONDEMAND_TARGET_CAPACITY` and `$LSF_SPOT_TARGET_CAPACITY` replaced (`AwsUtil.replaceTargetCapacitySpecification`). ohfp builds fleets from template fields only, which its checks and IAM policy cover: write the fleet as `providerApi` `EC2Fleet` with `fleetType`, `vmTypes`, `allocationStrategy`, `percentOnDemand` and `launchTemplateId` ([lsf.md](lsf.md))."},
	{key: "onDemandTargetCapacityRatio", where: "awsprov_templates.json",
		refusal: "IBM's plugins apply it to an ec2FleetConfig fleet only, which ohfp does not read; give an EC2 Fleet template percentOnDemand (0 to 100) instead",
		about:   "The on-demand share (0.0 to 1.0, rounded up) of an `ec2FleetConfig` fleet; both IBM plugins apply it to that file only (`AWSClient.updateTargetCapacitySpecification`, `aws_client.py`)."},
	{key: "durationInHours", where: "awsprov_templates.json",
		refusal: "AWS no longer offers Spot blocks (Spot Instances with a defined duration); remove the key",
		about:   "Hours of a Spot block (Java plugin). AWS no longer offers Spot Instances with a defined duration (Amazon EMR API reference, `SpotProvisioningSpecification`: not available to new customers from 1 July 2021, supported until 31 December 2022)."},
	{key: "ttl", where: "awsprov_templates.json",
		about: "The Java plugin copies it into its request record and never reads it again (`AwsImpl.requestMachines`)."},
	{key: "machineCount", where: "awsprov_templates.json",
		about: "The Java plugin's name for the number of machines of one request, which LSF sends with each `requestMachines`."},
	{key: "marketSpotPrice", where: "awsprov_templates.json",
		about: "Written by the Java plugin into its `getAvailableTemplates` answer (the current spot price, `AwsImpl.getAvailableTemplates`), not read. `ohfp smoke` shows current spot prices."},
	{key: "computeUnit, gpuextend", where: "awsprov_templates.json (Python plugin)",
		about: "The Python plugin checks their form and launches nothing differently (`template_manager.py`); IBM's documentation does not say ebrokerd reads them."},
}

// ibmKeyByName finds the entry of each key of ibmKeys.
var ibmKeyByName = func() map[string]*ibmKey {
	m := map[string]*ibmKey{}
	for i := range ibmKeys {
		for name := range strings.SplitSeq(ibmKeys[i].key, ", ") {
			m[name] = &ibmKeys[i]
		}
	}
	return m
}()

func isFalse(raw []byte) bool {
	v := string(bytes.Trim(bytes.TrimSpace(raw), `"`))
	return strings.EqualFold(v, "false")
}

// unread decides on a key ohfp does not read. Under LSF, a key IBM's
// plugin would act on is refused with the reason, and so is a key neither
// ohfp nor IBM knows: IBM's LSF plugins refuse unknown keys too (Jackson's
// default in the Java plugin; `config_manager.py` and
// `template_manager.py` list the keys they take), and a misspelt key
// would otherwise launch something other than what the site wrote. Every
// other case is reported in Config.Ignored.
func (s source) unread(m field, lsfMode bool) *fault.Error {
	k, isIBM := keyIn(ibmKeyByName, m)
	switch {
	case !lsfMode:
	case !isIBM:
		return s.errorf(m.name(), "unknown key; under LSF ohfp refuses keys it does not read, as IBM's LSF plugins do (docs/reference.md lists every key)")
	case k.refusal != "" && (k.harmless == nil || !k.harmless(m.raw)):
		return s.errorf(m.name(), "not supported under LSF: %s", k.refusal)
	}
	s.ignore(m.name())
	return nil
}
