"""API views of the access app: callers, the node registry, tag approvals, policies."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from access_app import selectors
from access_app.api_shapes import (
    AdminAgentListOutSerializer,
    ApiKeyListOutSerializer,
    ApproveTagsOutSerializer,
    HeartbeatOutSerializer,
    NodeListOutSerializer,
    NodeOutSerializer,
    PolicyListOutSerializer,
    RejectTagsOutSerializer,
    ShutdownOutSerializer,
    SuccessOutSerializer,
)
from access_app.models import AgentNode, NodeStatus
from access_app.permissions import IsAdmin, IsAgentOrAdmin
from access_app.serializers import (
    ApiKeyOutSerializer,
    ApproveTagsInSerializer,
    HeartbeatInSerializer,
    NodeRegisterInSerializer,
    NodeRegisterOutSerializer,
    PolicyInSerializer,
    PolicyOutSerializer,
    PrincipalOutSerializer,
    RejectTagsInSerializer,
    ShutdownInSerializer,
    admin_agent_out,
    node_out,
)
from access_app.services.approvals import (
    COMPONENT_FIELDS,
    NotPendingApproval,
    node_approve_tags,
    node_reject_tags,
)
from access_app.services.policies import (
    PolicyNameTaken,
    policy_create,
    policy_delete,
    policy_update,
)
from access_app.services.registration import (
    RegistrationError,
    node_heartbeat,
    node_register,
    node_shutdown,
)
from foundation.errors import error_response
from foundation.openapi import errors

NODE_NOT_FOUND = {"error": "node not found"}


class MeView(APIView):
    """Who the presented credentials act as."""

    @extend_schema(responses=PrincipalOutSerializer)
    def get(self, request):
        return Response(PrincipalOutSerializer(request.user).data)


class ApiKeyListView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=ApiKeyListOutSerializer)
    def get(self, request):
        keys = selectors.api_keys_list()
        return Response({"keys": ApiKeyOutSerializer(keys, many=True).data, "total": len(keys)})


# --- Registry ------------------------------------------------------------------------------


class NodeRegisterView(APIView):
    permission_classes = [IsAgentOrAdmin]

    @extend_schema(
        request=NodeRegisterInSerializer, responses={201: NodeRegisterOutSerializer, **errors(403)}
    )
    def post(self, request):
        serializer = NodeRegisterInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payload = {**request.data, **serializer.validated_data}
        try:
            result = node_register(principal=request.user, payload=payload)
        except RegistrationError as exc:
            return Response(exc.body, status=exc.status)
        body = {
            "success": True,
            "message": "Node registered successfully",
            "node_id": result.node.node_id,
            "status": (
                "pending_approval" if result.node.status == NodeStatus.PENDING_APPROVAL else "ready"
            ),
            "pending_tags": result.pending_tags,
            "approved_tags": result.approved_tags,
            "dispatch_token": result.node.dispatch_token,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class NodeHeartbeatView(APIView):
    permission_classes = [IsAgentOrAdmin]

    @extend_schema(request=HeartbeatInSerializer, responses=HeartbeatOutSerializer)
    def post(self, request, node_id: str):
        node = selectors.node_get_for(principal=request.user, node_id=node_id)
        if node is None:
            return Response(NODE_NOT_FOUND, status=404)
        serializer = HeartbeatInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        node_heartbeat(node=node, reported_status=serializer.validated_data.get("status"))
        return Response(
            {"success": True, "message": "heartbeat received", "timestamp": timezone.now()}
        )


class NodeShutdownView(APIView):
    permission_classes = [IsAgentOrAdmin]

    @extend_schema(request=ShutdownInSerializer, responses=ShutdownOutSerializer)
    def post(self, request, node_id: str):
        node = selectors.node_get_for(principal=request.user, node_id=node_id)
        if node is None:
            return Response(NODE_NOT_FOUND, status=404)
        serializer = ShutdownInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        node = node_shutdown(node=node)
        return Response(
            {
                "success": True,
                "message": "shutdown acknowledged",
                "node_id": node.node_id,
                "lifecycle_status": node.status,
            }
        )


class NodeListView(APIView):
    @extend_schema(responses=NodeListOutSerializer, operation_id="v1_nodes_list")
    def get(self, request):
        nodes = [node_out(node) for node in selectors.nodes_visible_to(request.user)]
        return Response({"nodes": nodes, "total": len(nodes)})


class NodeDetailView(APIView):
    @extend_schema(responses=NodeOutSerializer)
    def get(self, request, node_id: str):
        node = selectors.node_get_for(principal=request.user, node_id=node_id)
        if node is None:
            return Response(NODE_NOT_FOUND, status=404)
        return Response(node_out(node))


# --- Tag approval (admin) ------------------------------------------------------------------


class _AdminAgentsView(APIView):
    permission_classes = [IsAdmin]
    pending: bool

    @extend_schema(responses=AdminAgentListOutSerializer)
    def get(self, request):
        agents = [admin_agent_out(n) for n in selectors.nodes_by_approval(pending=self.pending)]
        return Response({"agents": agents, "total": len(agents)})


class PendingAgentsView(_AdminAgentsView):
    pending = True


class ApprovedAgentsView(_AdminAgentsView):
    pending = False


def _not_pending(node_id: str) -> Response:
    return error_response(
        409, "not_pending_approval", f"agent '{node_id}' has no tags pending approval"
    )


class ApproveTagsView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=ApproveTagsInSerializer, responses={200: ApproveTagsOutSerializer, **errors(409)}
    )
    def post(self, request, node_id: str):
        node = selectors.node_get(node_id)
        if node is None:
            return Response(NODE_NOT_FOUND, status=404)
        serializer = ApproveTagsInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        components = {kind: data.get(field) or {} for field, kind in COMPONENT_FIELDS.items()}
        try:
            approved = node_approve_tags(
                node=node,
                approved_tags=data["approved_tags"],
                component_tags=components,
                actor=request.user.actor,
                reason=data.get("reason", ""),
            )
        except NotPendingApproval:
            return _not_pending(node_id)
        return Response(
            {
                "success": True,
                "message": "Agent tags approved",
                "agent_id": node_id,
                "approved_tags": approved,
            }
        )


class RejectTagsView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=RejectTagsInSerializer, responses={200: RejectTagsOutSerializer, **errors(409)}
    )
    def post(self, request, node_id: str):
        node: AgentNode | None = selectors.node_get(node_id)
        if node is None:
            return Response(NODE_NOT_FOUND, status=404)
        serializer = RejectTagsInSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        try:
            rejected = node_reject_tags(
                node=node,
                actor=request.user.actor,
                reason=serializer.validated_data.get("reason", ""),
            )
        except NotPendingApproval:
            return _not_pending(node_id)
        return Response(
            {
                "success": True,
                "message": "Agent tags rejected",
                "agent_id": node_id,
                "rejected_tags": rejected,
            }
        )


# --- Access policies (admin) ---------------------------------------------------------------

POLICY_NOT_FOUND = {"error": "not_found", "message": "policy not found"}
INVALID_ACTION = {"error": "invalid_action", "message": "Action must be 'allow' or 'deny'"}


def _validated_policy(request) -> tuple[dict | None, Response | None]:
    serializer = PolicyInSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    if data["action"] not in ("allow", "deny"):
        return None, Response(INVALID_ACTION, status=400)
    return data, None


def _name_taken(name: str) -> Response:
    return error_response(409, "policy_exists", f"a policy named '{name}' already exists")


class PolicyListView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=PolicyListOutSerializer, operation_id="v1_admin_policies_list")
    def get(self, request):
        policies = selectors.policies_list()
        return Response(
            {"policies": PolicyOutSerializer(policies, many=True).data, "total": len(policies)}
        )

    @extend_schema(request=PolicyInSerializer, responses={201: PolicyOutSerializer, **errors(409)})
    def post(self, request):
        data, problem = _validated_policy(request)
        if problem:
            return problem
        try:
            policy = policy_create(data=data)
        except PolicyNameTaken:
            return _name_taken(data["name"])
        return Response(PolicyOutSerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailView(APIView):
    permission_classes = [IsAdmin]

    def _policy(self, policy_id: int):
        return selectors.policies_list().filter(pk=policy_id).first()

    @extend_schema(responses=PolicyOutSerializer)
    def get(self, request, policy_id: int):
        policy = self._policy(policy_id)
        if policy is None:
            return Response(POLICY_NOT_FOUND, status=404)
        return Response(PolicyOutSerializer(policy).data)

    @extend_schema(request=PolicyInSerializer, responses={200: PolicyOutSerializer, **errors(409)})
    def put(self, request, policy_id: int):
        policy = self._policy(policy_id)
        if policy is None:
            return Response(POLICY_NOT_FOUND, status=404)
        data, problem = _validated_policy(request)
        if problem:
            return problem
        try:
            policy = policy_update(policy=policy, data=data)
        except PolicyNameTaken:
            return _name_taken(data["name"])
        return Response(PolicyOutSerializer(policy).data)

    @extend_schema(responses={200: SuccessOutSerializer})
    def delete(self, request, policy_id: int):
        policy = self._policy(policy_id)
        if policy is None:
            return Response(POLICY_NOT_FOUND, status=404)
        policy_delete(policy=policy)
        return Response({"success": True, "message": "Policy deleted"})
