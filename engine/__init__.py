"""Report engine: specs, templates, the generator every number passes through, scheduler and jobs."""
