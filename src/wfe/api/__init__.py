"""The WorkflowExecution API (`kubernaut.ai/v1alpha1`): models, enums and the generated CRD
(SPEC §2). Imports nothing else of ours.
"""

__all__: list[str] = []
