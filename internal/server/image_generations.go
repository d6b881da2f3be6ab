package server

import (
	"context"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/translate"
)

// maxParallelImageCalls bounds the InvokeModel calls of one image request
// (SDXL and Stability's newer models make one image per call).
const maxParallelImageCalls = 4

func (s *Server) imageGenerations(w http.ResponseWriter, r *http.Request) error {
	var req openai.ImageRequest
	if err := s.readModelRequest(w, r, &req, &req.Model); err != nil {
		return err
	}
	log := loggerFrom(r.Context(), s.log).With("model", req.Model)
	recordFrom(r.Context()).callType = "images"
	var images []string
	call, err := s.routed(w, r, req.Model, req.User, req.Extra, func(ctx context.Context, c *router.Call) error {
		d := c.Deployment
		if err := d.Serves(translate.APIImages); err != nil {
			return err
		}
		plan, err := translate.ImagesFromRequest(&req, d.Image)
		if err != nil {
			return err
		}
		translate.LogDropped(log.With("deployment", d.ID), plan.Dropped)
		out, err := generateImages(ctx, d, plan)
		if err == nil {
			images = out
		}
		return err
	})
	if err != nil {
		return err
	}
	s.finish(w, recordFrom(r.Context()), call, router.Usage{}, spend.Usage{OutputImages: len(images)}, nil)
	writeJSON(w, http.StatusOK, translate.ImagesResponse(images, s.now().Unix()))
	return nil
}

// generateImages makes the plan's calls, a few at a time, keeping the
// images in call order.
func generateImages(ctx context.Context, d *router.Deployment, plan *translate.ImagePlan) ([]string, error) {
	perCall := make([][]string, len(plan.Bodies))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelImageCalls)
	for i, body := range plan.Bodies {
		g.Go(func() error {
			resp, err := d.Client.Invoke(ctx, d.ModelID, body)
			if err != nil {
				return err
			}
			perCall[i], err = translate.ImagesFromInvoke(d.Image, resp.Body)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var images []string
	for _, imgs := range perCall {
		images = append(images, imgs...)
	}
	return images, nil
}
