package aws

import (
	"context"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
)

const (
	// ssmImageTTL bounds how long a resolved SSM image path is trusted:
	// paths such as /aws/service/ami-amazon-linux-latest/... move to new
	// AMIs over time, unlike an AMI's own facts.
	ssmImageTTL = time.Hour
	// defaultRootDevice is the root device of Amazon Linux and most AMIs.
	defaultRootDevice = "/dev/xvda"
)

// ssmImage is the cached answer of an SSM image path.
type ssmImage struct {
	ImageID    string    `json:"imageId"`
	ResolvedAt time.Time `json:"resolvedAt"`
}

// resolveImage turns the template's imageId into an AMI id: an SSM
// parameter is looked up, anything else is taken as is.
//
//ohfp:iam ssm
func (p *Provider) resolveImage(ctx context.Context, t config.Template) (string, error) {
	name, isSSM := t.ImageParameter()
	if !isSSM {
		return t.ImageID, nil
	}
	key := "ssm:" + name
	var cached ssmImage
	if p.fact(ctx, key, &cached) && p.now().Sub(cached.ResolvedAt) < ssmImageTTL {
		return cached.ImageID, nil
	}
	out, err := p.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String(name)})
	if err != nil {
		return "", awsError("ssm:GetParameter "+name, err)
	}
	if out.Parameter == nil || awssdk.ToString(out.Parameter.Value) == "" {
		return "", fault.New(fault.Configuration, "SSM parameter %s holds no image id", name)
	}
	id := awssdk.ToString(out.Parameter.Value)
	p.putFact(ctx, key, ssmImage{ImageID: id, ResolvedAt: p.now()})
	return id, nil
}

// rootDeviceName is the device name of imageID's root volume, which a
// block device mapping must name to resize it rather than add a volume.
func (p *Provider) rootDeviceName(ctx context.Context, imageID string) (string, error) {
	if imageID == "" {
		return defaultRootDevice, nil
	}
	key := "image-root:" + imageID
	var device string
	if p.fact(ctx, key, &device) {
		return device, nil
	}
	out, err := p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}}, p.describeOpts...)
	switch {
	case apiCode(err) == codeUnauthorized:
		p.log.Warn("cannot describe the image; assuming its root device", "image_id", imageID, "device", defaultRootDevice, "err", err)
		return defaultRootDevice, nil
	case err != nil:
		return "", awsError("ec2:DescribeImages", err)
	}
	if len(out.Images) == 0 || awssdk.ToString(out.Images[0].RootDeviceName) == "" {
		return defaultRootDevice, nil
	}
	device = awssdk.ToString(out.Images[0].RootDeviceName)
	p.putFact(ctx, key, device)
	return device, nil
}
