package server

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/ohfp/ohfp/internal/app"
	"github.com/ohfp/ohfp/internal/broker"
	"github.com/ohfp/ohfp/internal/config"
	"github.com/ohfp/ohfp/internal/fault"
	"github.com/ohfp/ohfp/internal/hf"
)

func (s *Server) templates(w http.ResponseWriter, r *http.Request) {
	s.operation(w, r, hf.OpGetAvailableTemplates, []byte("{}"), http.StatusOK)
}

func (s *Server) requestMachines(w http.ResponseWriter, r *http.Request) {
	s.operationWithBody(w, r, hf.OpRequestMachines, http.StatusCreated)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	s.operationWithBody(w, r, hf.OpGetRequestStatus, http.StatusOK)
}

func (s *Server) returnMachines(w http.ResponseWriter, r *http.Request) {
	s.operationWithBody(w, r, hf.OpRequestReturnMachines, http.StatusCreated)
}

func (s *Server) reclaims(w http.ResponseWriter, r *http.Request) {
	s.operationWithBody(w, r, hf.OpGetReturnRequests, http.StatusOK)
}

// requestStatus answers as getRequestStatus would for the one request the
// path names, but refreshes without claiming: a person or a dashboard
// looking at a request is not HostFactory, and a request HostFactory never
// got must stay recoverable.
func (s *Server) requestStatus(w http.ResponseWriter, r *http.Request) {
	type ref struct {
		RequestID string `json:"requestId"`
	}
	input, err := json.Marshal(struct {
		Requests []ref `json:"requests"`
	}{[]ref{{r.PathValue("id")}}})
	if err != nil {
		writeFailure(w, fault.Wrap(fault.Internal, err, "encoding the request id"))
		return
	}
	in, err := hf.Decode(hf.OpGetRequestStatus, input)
	if err != nil {
		writeFailure(w, err)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	cfg, err := config.Load(s.env)
	if err != nil {
		writeFailure(w, err)
		return
	}
	a, err := app.Open(ctx, cfg, s.log, broker.WithActor(app.Actor("ohfp serve")))
	if err != nil {
		writeFailure(w, err)
		return
	}
	defer a.Close()
	sts, err := a.Broker.Refresh(ctx, in.RequestIDs)
	writeResult(w, hf.OpGetRequestStatus, hf.Result{Statuses: sts}, err, http.StatusOK)
}

func (s *Server) operationWithBody(w http.ResponseWriter, r *http.Request, op string, success int) {
	input, err := hf.ReadInput(r.Body)
	if err != nil {
		writeFailure(w, err)
		return
	}
	s.operation(w, r, op, input, success)
}

// operation runs op exactly as the script would, so the answer is the one
// HostFactory gets, byte for byte, and the operation is logged to the same
// file. Once started it runs to its end even if the client goes away, as a
// script does: a placement cut halfway would only be repaired later.
func (s *Server) operation(w http.ResponseWriter, r *http.Request, op string, input []byte, success int) {
	res, err := app.Operate(context.WithoutCancel(r.Context()), op, input, s.env)
	writeResult(w, op, res, err, success)
}

// writeResult writes an operation's answer with the HTTP status its error
// stands for, or success.
func writeResult(w http.ResponseWriter, op string, res hf.Result, err error, success int) {
	status := success
	if err != nil {
		status = httpStatus(fault.CodeOf(err))
	}
	writeJSON(w, status, hf.Encode(op, res, err))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// writeFailure answers err in the HostFactory error envelope.
func writeFailure(w http.ResponseWriter, err error) {
	writeResult(w, "", hf.Result{}, err, http.StatusOK)
}

// httpStatus is the HTTP status a fault code stands for: input errors are
// the client's (404 for what does not exist, 403 for what the principal
// may not do), cloud errors a bad gateway
// (503 when a quota is reached), the rest the server's.
func httpStatus(code fault.Code) int {
	switch code.ExitCode() {
	case 2:
		switch code {
		case fault.TemplateNotFound, fault.RequestNotFound:
			return http.StatusNotFound
		case fault.PermissionDenied:
			return http.StatusForbidden
		}
		return http.StatusBadRequest
	case 3:
		if code == fault.QuotaExceeded {
			return http.StatusServiceUnavailable
		}
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}
