"""API views of the access app: callers, the node registry, tag approvals, policies.

Each parses its input with an input serializer, calls one service or selector, and renders
an output serializer (``api_shapes``); refusals are ``ApiError``s the services raise.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from access_app import api_docs as docs
from access_app import api_docs_approvals as approval_docs
from access_app import selectors
from access_app.api_shapes import (
    AdminAgentListOutSerializer,
    ApiKeyListOutSerializer,
    ApproveTagsOutSerializer,
    HeartbeatOutSerializer,
    NodeListOutSerializer,
    NodeOutSerializer,
    NodeRegisterOutSerializer,
    PolicyListOutSerializer,
    PolicyOutSerializer,
    PrincipalOutSerializer,
    RejectTagsOutSerializer,
    ShutdownOutSerializer,
    SuccessOutSerializer,
    TagDecisionChangeOutSerializer,
    acknowledged,
)
from access_app.models import AccessPolicy, AgentNode
from access_app.permissions import IsAdmin, IsAgentOrAdmin
from access_app.serializers import (
    ApproveTagsInSerializer,
    HeartbeatInSerializer,
    NodeRegisterInSerializer,
    PolicyInSerializer,
    RejectTagsInSerializer,
    ShutdownInSerializer,
    TagDecisionChangeInSerializer,
)
from access_app.services.approvals import (
    COMPONENT_FIELDS,
    node_tags_approve,
    node_tags_reject,
    target_tag_redecide,
)
from access_app.services.nodes import node_heartbeat, node_register, node_shutdown
from access_app.services.policies import policy_create, policy_delete, policy_update
from foundation.errors import ApiError


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _found(node: AgentNode | None) -> AgentNode:
    if node is None:
        raise ApiError(404, "node not found")
    return node


class MeView(APIView):
    """Who the presented credentials act as."""

    @extend_schema(responses=PrincipalOutSerializer, **docs.ME)
    def get(self, request):
        return Response(PrincipalOutSerializer(request.user).data)


class ApiKeyListView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=ApiKeyListOutSerializer, **docs.API_KEYS)
    def get(self, request):
        keys = list(selectors.api_keys_list())
        return Response(ApiKeyListOutSerializer({"keys": keys, "total": len(keys)}).data)


# --- Registry ------------------------------------------------------------------------------


class NodeRegisterView(APIView):
    permission_classes = [IsAgentOrAdmin]

    @extend_schema(
        request=NodeRegisterInSerializer,
        responses={201: NodeRegisterOutSerializer, **docs.REGISTER_ERRORS},
        **docs.REGISTER,
    )
    def post(self, request):
        data = _validated(NodeRegisterInSerializer, request.data)
        # Upstream SDKs send fields the serializer does not know; the service reads them.
        result = node_register(principal=request.user, payload={**request.data, **data})
        body = acknowledged(
            NodeRegisterOutSerializer,
            "Node registered successfully",
            node=result.node,
            pending_tags=result.pending_tags,
            approved_tags=result.approved_tags,
        )
        return Response(body, status=status.HTTP_201_CREATED)


class NodeHeartbeatView(APIView):
    permission_classes = [IsAgentOrAdmin]

    @extend_schema(
        request=HeartbeatInSerializer,
        responses={200: HeartbeatOutSerializer, **docs.NODE_NOT_FOUND},
        **docs.HEARTBEAT,
    )
    def post(self, request, node_id: str):
        node = _found(selectors.node_get_for(principal=request.user, node_id=node_id))
        data = _validated(HeartbeatInSerializer, request.data or {})
        node_heartbeat(node=node, reported_status=data.get("status"))
        body = acknowledged(HeartbeatOutSerializer, "heartbeat received", timestamp=timezone.now())
        return Response(body)


class NodeShutdownView(APIView):
    permission_classes = [IsAgentOrAdmin]

    @extend_schema(
        request=ShutdownInSerializer,
        responses={200: ShutdownOutSerializer, **docs.NODE_NOT_FOUND},
        **docs.SHUTDOWN,
    )
    def post(self, request, node_id: str):
        node = _found(selectors.node_get_for(principal=request.user, node_id=node_id))
        _validated(ShutdownInSerializer, request.data or {})
        node = node_shutdown(node=node)
        return Response(acknowledged(ShutdownOutSerializer, "shutdown acknowledged", node=node))


class NodeListView(APIView):
    @extend_schema(responses=NodeListOutSerializer, operation_id="v1_nodes_list", **docs.NODE_LIST)
    def get(self, request):
        nodes = list(selectors.nodes_visible_to(request.user))
        return Response(NodeListOutSerializer({"nodes": nodes, "total": len(nodes)}).data)


class NodeDetailView(APIView):
    @extend_schema(responses={200: NodeOutSerializer, **docs.NODE_NOT_FOUND}, **docs.NODE_DETAIL)
    def get(self, request, node_id: str):
        node = _found(selectors.node_get_for(principal=request.user, node_id=node_id))
        return Response(NodeOutSerializer(node).data)


# --- Tag approval (admin) ------------------------------------------------------------------


class _AdminAgentsView(APIView):
    permission_classes = [IsAdmin]
    pending: bool

    @extend_schema(responses=AdminAgentListOutSerializer)
    def get(self, request):
        agents = list(selectors.nodes_by_approval(pending=self.pending))
        return Response(AdminAgentListOutSerializer({"agents": agents, "total": len(agents)}).data)


@extend_schema_view(get=extend_schema(**approval_docs.PENDING))
class PendingAgentsView(_AdminAgentsView):
    pending = True


@extend_schema_view(get=extend_schema(**approval_docs.APPROVED))
class ApprovedAgentsView(_AdminAgentsView):
    pending = False


class ApproveTagsView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=ApproveTagsInSerializer,
        responses={
            200: ApproveTagsOutSerializer,
            **approval_docs.TAGS_NODE_NOT_FOUND,
            **approval_docs.NOTHING_PENDING,
        },
        **approval_docs.APPROVE,
    )
    def post(self, request, node_id: str):
        node = _found(selectors.node_get(node_id))
        data = _validated(ApproveTagsInSerializer, request.data)
        approved = node_tags_approve(
            node=node,
            approved_tags=data["approved_tags"],
            component_tags={kind: data.get(f) or {} for f, kind in COMPONENT_FIELDS.items()},
            actor=request.user.actor,
            reason=data.get("reason", ""),
        )
        body = acknowledged(
            ApproveTagsOutSerializer,
            "Agent tags approved",
            agent_id=node_id,
            approved_tags=approved,
        )
        return Response(body)


class RejectTagsView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        request=RejectTagsInSerializer,
        responses={
            200: RejectTagsOutSerializer,
            **approval_docs.TAGS_NODE_NOT_FOUND,
            **approval_docs.NOTHING_PENDING,
        },
        **approval_docs.REJECT,
    )
    def post(self, request, node_id: str):
        node = _found(selectors.node_get(node_id))
        data = _validated(RejectTagsInSerializer, request.data or {})
        rejected = node_tags_reject(
            node=node, actor=request.user.actor, reason=data.get("reason", "")
        )
        body = acknowledged(
            RejectTagsOutSerializer,
            "Agent tags rejected",
            agent_id=node_id,
            rejected_tags=rejected,
        )
        return Response(body)


class TagDecisionChangeView(APIView):
    """Revoke an approved tag of one target (it is rejected: the target takes no new calls
    at once) or approve a rejected one; the reason is recorded with the decision."""

    permission_classes = [IsAdmin]

    @extend_schema(
        request=TagDecisionChangeInSerializer,
        responses={
            200: TagDecisionChangeOutSerializer,
            **approval_docs.TAG_DECISION_NOT_FOUND,
            **approval_docs.TAG_NOT_DECIDED,
        },
        **approval_docs.TAG_DECISION,
    )
    def post(self, request, node_id: str):
        node = _found(selectors.node_get(node_id))
        data = _validated(TagDecisionChangeInSerializer, request.data)
        target = selectors.node_target(node, data["target"], data.get("kind"))
        if target is None:
            raise ApiError(404, "not_found", f"no target '{data['target']}' on '{node_id}'")
        changed = target_tag_redecide(
            target=target,
            tag=data["tag"],
            decision=data["decision"],
            actor=request.user.actor,
            reason=data["reason"],
        )
        target.refresh_from_db(fields=["approval"])
        body = acknowledged(
            TagDecisionChangeOutSerializer,
            "Tag decision changed" if changed else "Nothing changed",
            agent_id=node_id,
            target=target.full_name,
            kind=target.kind,
            tag=data["tag"],
            status=data["decision"],
            changed=changed,
            callable=target.approval == "approved",
        )
        return Response(body)


# --- Access policies (admin) ---------------------------------------------------------------


class PolicyListView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        responses=PolicyListOutSerializer,
        operation_id="v1_admin_policies_list",
        **approval_docs.POLICY_LIST,
    )
    def get(self, request):
        policies = list(selectors.policies_list())
        body = {"policies": policies, "total": len(policies)}
        return Response(PolicyListOutSerializer(body).data)

    @extend_schema(
        request=PolicyInSerializer,
        responses={
            201: PolicyOutSerializer,
            **approval_docs.POLICY_INVALID,
            **approval_docs.POLICY_EXISTS,
        },
        **approval_docs.POLICY_CREATE,
    )
    def post(self, request):
        policy = policy_create(data=_validated(PolicyInSerializer, request.data))
        return Response(PolicyOutSerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailView(APIView):
    permission_classes = [IsAdmin]

    def _policy(self, policy_id: int) -> AccessPolicy:
        policy = selectors.policies_list().filter(pk=policy_id).first()
        if policy is None:
            raise ApiError(404, "not_found", "policy not found")
        return policy

    @extend_schema(
        responses={200: PolicyOutSerializer, **approval_docs.POLICY_NOT_FOUND},
        **approval_docs.POLICY_GET,
    )
    def get(self, request, policy_id: int):
        return Response(PolicyOutSerializer(self._policy(policy_id)).data)

    @extend_schema(
        request=PolicyInSerializer,
        responses={
            200: PolicyOutSerializer,
            **approval_docs.POLICY_INVALID,
            **approval_docs.POLICY_NOT_FOUND,
            **approval_docs.POLICY_EXISTS,
        },
        **approval_docs.POLICY_PUT,
    )
    def put(self, request, policy_id: int):
        policy = self._policy(policy_id)
        data = _validated(PolicyInSerializer, request.data)
        return Response(PolicyOutSerializer(policy_update(policy=policy, data=data)).data)

    @extend_schema(
        responses={200: SuccessOutSerializer, **approval_docs.POLICY_NOT_FOUND},
        **approval_docs.POLICY_DELETE,
    )
    def delete(self, request, policy_id: int):
        policy_delete(policy=self._policy(policy_id))
        return Response(acknowledged(SuccessOutSerializer, "Policy deleted"))
