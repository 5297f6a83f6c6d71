package api

import (
	"context"
	"net/http"

	"nucleus/spec"
)

// RmResponse names the replicas `nucleus rm` removed.
type RmResponse struct {
	Removed []string `json:"removed"`
}

func (in *Instance) serveRm(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/rm", func(w http.ResponseWriter, r *http.Request) {
		var req ServicesRequest
		if !decode(w, r, &req) {
			return
		}
		res := &RmResponse{Removed: []string{}}
		err := in.runner.Do(r.Context(), func(ctx context.Context, _ *spec.Project) error {
			removed, err := in.sv.RemoveServices(ctx, req.Services)
			res.Removed = append(res.Removed, removed...)
			return err
		})
		reply(w, res, err)
	})
}

// Rm removes the replicas of the services that do not run (see
// reconcile.Supervisor.RemoveServices).
func (c *Client) Rm(ctx context.Context, services []string) (*RmResponse, error) {
	var res RmResponse
	return &res, c.call(ctx, http.MethodPost, "/v1/rm", ServicesRequest{Services: services}, &res)
}
