package sandbox

import (
	"bytes"
	"net/http"
)

// The awsquery protocol of Auto Scaling and STS: form in, XML out in an
// <ActionResponse><ActionResult> envelope, errors in <ErrorResponse>.

// queryService is an awsquery service answering in namespace ns.
func queryService(name, ns string, actions map[string]handler) *service {
	return &service{
		name:        name,
		contentType: "text/xml",
		actions:     actions,
		writeError: func(b *bytes.Buffer, requestID string, e *apiError) {
			x := xmlw{b}
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
			b.WriteString(`<ErrorResponse xmlns="` + ns + `">`)
			x.open("Error")
			if e.Status >= http.StatusInternalServerError {
				x.str("Type", "Receiver")
			} else {
				x.str("Type", "Sender")
			}
			x.str("Code", e.Code)
			x.str("Message", e.Message)
			x.close("Error")
			x.str("RequestId", requestID)
			x.close("ErrorResponse")
		},
	}
}

// queryReply writes the envelope around body; a nil body writes no Result,
// as for actions without output.
func queryReply(c *call, ns string, body func(x xmlw)) {
	x := xmlw{c.out}
	x.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.b.WriteString("<" + c.action + `Response xmlns="` + ns + `">`)
	if body != nil {
		x.open(c.action + "Result")
		body(x)
		x.close(c.action + "Result")
	}
	x.open("ResponseMetadata")
	x.str("RequestId", c.requestID)
	x.close("ResponseMetadata")
	x.close(c.action + "Response")
}

const (
	stsVersion   = "2011-06-15"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	// SandboxUserID is the IAM user id GetCallerIdentity answers.
	SandboxUserID = "AIDASANDBOXUSER000001"
)

func stsService() *service {
	return queryService("sts", stsNamespace, map[string]handler{
		"GetCallerIdentity": (*Sandbox).getCallerIdentity,
	})
}

func (s *Sandbox) getCallerIdentity(c *call) error {
	queryReply(c, stsNamespace, func(x xmlw) {
		x.str("Arn", "arn:aws:iam::"+s.opts.AccountID+":user/sandbox")
		x.str("UserId", SandboxUserID)
		x.str("Account", s.opts.AccountID)
	})
	return nil
}
