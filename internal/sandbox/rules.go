package sandbox

import (
	"encoding/base64"
	"net/http"
)

// Request rules AWS documents that more than one action shares. Each is
// listed, with its source, in docs/aws-rules.md.

const (
	// maxClientToken is the longest ClientToken: 64 ASCII characters.
	maxClientToken = 64
	// maxUserData is the most user data, in bytes before base64 (16 KB).
	maxUserData = 16 * 1024
	// maxIDs is the most instance ids DescribeInstances and
	// TerminateInstances take in one call.
	maxIDs = 1000
	// maxFleetPools is the most pools (type x subnet) of an EC2 Fleet of
	// type request or maintain, or a Spot Fleet.
	maxFleetPools = 300
)

// checkClientToken applies EC2's idempotency token rule to key.
func checkClientToken(p params, key string) error {
	tok := p.get(key)
	if len(tok) > maxClientToken {
		return badParam("Value for parameter clientToken is invalid: it must have at most %d ASCII characters.", maxClientToken)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < 0x20 || tok[i] > 0x7e {
			return badParam("Value for parameter clientToken is invalid: it must be ASCII.")
		}
	}
	return nil
}

// checkUserData applies EC2's limit to key's base64 user data.
func checkUserData(p params, key string) error {
	raw, err := base64.StdEncoding.DecodeString(p.get(key))
	if err != nil {
		return badParam("Invalid BASE64 encoding of user data.")
	}
	if len(raw) > maxUserData {
		return badParam("User data is limited to %d bytes; got %d.", maxUserData, len(raw))
	}
	return nil
}

// checkIDCount applies EC2's limit of instance ids per call.
func checkIDCount(ids []string) error {
	if len(ids) > maxIDs {
		return badParam("The request names %d instance IDs; at most %d are allowed in one call.", len(ids), maxIDs)
	}
	return nil
}

// checkFleet applies the rules of EC2 Fleet and Spot Fleet requests: the
// excess capacity policy is for maintain fleets only, a request can't span
// different subnets of the same Availability Zone, and fleets other than
// instant take at most 300 pools.
func checkFleet(typ, excessPolicy string, pools []*pool) error {
	if excessPolicy != "" && typ != "maintain" {
		return badParam("ExcessCapacityTerminationPolicy is supported only for fleets of type 'maintain', not '%s'.", typ)
	}
	if typ != "instant" && len(pools) > maxFleetPools {
		return badParam("The fleet has %d pools; a fleet of type '%s' takes at most %d.", len(pools), typ, maxFleetPools)
	}
	byZone := map[string]string{}
	for _, pl := range pools {
		sn := pl.l.sn
		if other, ok := byZone[sn.Zone]; ok && other != sn.ID {
			return apiErrorf(http.StatusBadRequest, "InvalidFleetConfig",
				"The fleet configuration contains duplicate instance pools: subnets %s and %s are both in %s, and a fleet request can't span different subnets of the same Availability Zone.", other, sn.ID, sn.Zone)
		}
		byZone[sn.Zone] = sn.ID
	}
	return nil
}
