package httpapi

import (
	"net/http"

	"github.com/trove-memory/trove/internal/service"
)

// Governance: promote, archive (by id in the path, or by id or query in
// the body) and compact.

// promoteBody is POST /v1/memories/{id}/promote (the body may be empty).
type promoteBody struct {
	State string `json:"state"`
	Layer string `json:"layer"`
}

func (a *api) promoteMemory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in promoteBody
	if err := decodeOptional(w, r, &in); err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Promote(r.Context(), c, service.PromoteInput{Target: service.Target{ID: r.PathValue("id")}, State: in.State, Layer: in.Layer})
	return http.StatusOK, out, err
}

// archiveBody is POST /v1/memories/{id}/archive (the body may be empty).
type archiveBody struct {
	Reason string `json:"reason"`
}

func (a *api) archiveMemory(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in archiveBody
	if err := decodeOptional(w, r, &in); err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Archive(r.Context(), c, service.ArchiveInput{Target: service.Target{ID: r.PathValue("id")}, Reason: in.Reason})
	return http.StatusOK, out, err
}

// promote is POST /v1/promote: {id or query, scope, state, layer}.
func (a *api) promote(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in service.PromoteInput
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Promote(r.Context(), c, in)
	return http.StatusOK, out, err
}

// archive is POST /v1/archive: {id or query, scope, reason}.
func (a *api) archive(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in service.ArchiveInput
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Archive(r.Context(), c, in)
	return http.StatusOK, out, err
}

// compact is POST /v1/compact: {scopes, dry_run} (dry_run defaults to
// true; the body may be empty).
func (a *api) compact(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in service.CompactInput
	if err := decodeOptional(w, r, &in); err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Compact(r.Context(), c, in)
	return http.StatusOK, out, err
}

// decodeOptional is decode for a body that may be left out: an empty
// body without a Content-Type leaves dst as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return onlyParams(r.URL.Query())
	}
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	return decode(w, r, dst)
}

// feedbackBody is POST /v1/feedback; agent names the agent as in
// recall-context's body.
type feedbackBody struct {
	service.FeedbackInput
	Agent string `json:"agent"`
}

func (a *api) feedback(w http.ResponseWriter, r *http.Request, c service.Caller) (int, any, error) {
	var in feedbackBody
	if err := decode(w, r, &in); err != nil {
		return 0, nil, err
	}
	c, err := bodyAgent(c, in.Agent)
	if err != nil {
		return 0, nil, err
	}
	out, err := a.svc.Feedback(r.Context(), c, in.FeedbackInput)
	return http.StatusOK, out, err
}
