"""Tekton specifics, still pure: building the lock PipelineRun and reading PipelineRun and TaskRun
status into the core's evidence (SPEC §5, §6).
"""

__all__: list[str] = []
