package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register("build", newBuildCmd) }

// buildHowTo is what nucleus says instead of building: where an image
// comes from when nucleus only runs existing ones.
const buildHowTo = `nucleus does not build images: it runs existing ones (image:).
Build the image with docker, podman or buildah, then either
  - push it to a registry:  docker build -t registry.example/app:1 . && docker push registry.example/app:1
    and set  image: registry.example/app:1
  - or save it to an archive: docker save -o app.tar app:1
    and set  image: docker-archive:./app.tar  (an OCI layout directory works as image: oci:./DIR:TAG)
and run nucleus up.`

func newBuildCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "build [SERVICE...]",
		Short:              "Not supported: nucleus runs existing images (says how to supply one)",
		Long:               buildHowTo,
		DisableFlagParsing: true, // compose's build flags are answered the same way
		RunE: func(cmd *cobra.Command, args []string) error {
			return &exitError{code: 2, err: fmt.Errorf("nucleus build: %s", buildHowTo)}
		},
	}
}
