"""Development and test tools: the local control plane (etcd + kube-apiserver built from the Go
module proxy), the Tekton simulator (a stand-in for Tekton's controller) and samples.
"""

__all__: list[str] = []
