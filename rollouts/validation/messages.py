"""The messages of Argo's `pkg/apis/rollouts/validation/validation.go`, verbatim (plus a few of our own for
rules Argo leaves to the CRD schema). Part of `rollouts.validation`."""

MISSING_FIELD = "Rollout has missing field '%s'"
INVALID_SET_WEIGHT = "SetWeight needs to be between 0 and %d"
EXPERIMENT_WEIGHT_WITHOUT_TR = "Experiment template weight cannot be set unless TrafficRouting is enabled"
# ours: Argo has no rule, and the router then writes a negative stable weight the mesh refuses at every reconcile
EXPERIMENT_WEIGHTS_EXCEED = (
    "Experiment template weights (%d) and the canary weight at this step (%d) add up to more than the maximum "
    "traffic weight (%d): the stable service would get a negative weight"
)
EXPERIMENT_WEIGHT_ROUTERS = "Experiment template weight is only available for TrafficRouting with SMI, ALB, Istio and Plugins at this time"
SET_CANARY_SCALE_NEEDS_TR = "SetCanaryScale requires TrafficRouting to be set"
SET_HEADER_ROUTE_NEEDS_TR = "SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix"
SET_MIRROR_ROUTE_NEEDS_TR = "SetMirrorRoute requires TrafficRouting, supports Istio and Plugins"
STRING_MATCH_MULTIPLE = "StringMatch match value must have exactly one of the following: exact, regex, prefix"
STRING_MATCH_MISSING = (
    "StringMatch value missed, match value must have one of the following: exact, regex, prefix"
)
HEADER_ROUTE_ALB_EXACT = "SetHeaderRoute match value invalid. ALB supports 'exact' value only"
INVALID_DURATION = "Duration needs to be greater than 0"
SURGE_AND_UNAVAILABLE_ZERO = "MaxSurge and MaxUnavailable both can not be zero"
INVALID_STEP = (
    "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause"
)
MULTIPLE_STRATEGIES = "Multiple Strategies can not be listed"
DUPLICATED_SERVICES_BLUE_GREEN = "This rollout uses the same service for the active and preview services, but two different services are required."
DUPLICATED_SERVICES_CANARY = "This rollout uses the same service for the stable and canary services, but two different services are required."
ANTI_AFFINITY_ONE_STRATEGY = "AntiAffinity must have exactly one strategy listed"
ANTI_AFFINITY_WEIGHT = "AntiAffinity weight must be between 1-100"
SCALE_DOWN_LIMIT_ABOVE_HISTORY = (
    "This rollout's revision history limit can not be smaller than the rollout's scale down limit"
)
TR_NEEDS_SERVICES = "Canary service and Stable service must to be set to use Traffic Routing"
INVALID_ANALYSIS_ARGS = "Analyses arguments must refer to valid object metadata supported by downwardAPI"
SCALE_DOWN_DELAY_NEEDS_TR = "Canary scaleDownDelaySeconds can only be used with traffic routing"
DYNAMIC_STABLE_SCALE_NEEDS_TR = "Canary dynamicStableScale can only be used with traffic routing"
DYNAMIC_STABLE_SCALE_WITH_DELAY = "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds"
MAX_WEIGHT_NGINX_PLUGINS = "Canary maxTrafficWeight in traffic routing only supported in Nginx and Plugins"
PING_PONG_NEEDS_SERVICES = "Ping service and Pong service must to be set to use Ping-Pong feature"
DUPLICATED_PING_PONG = "This rollout uses the same service for the ping and pong services, but two different services are required."
ALB_PING_PONG_ROOT = (
    "Root service field is required for the configuration with ALB and ping-pong feature enabled"
)
PING_PONG_ROUTERS = "Ping-pong feature works with the ALB, Istio, and plugin-based traffic routers only"
ROUTE_NOT_IN_MANAGED_ROUTES = (
    "Steps define a route that does not exist in spec.strategy.canary.trafficRouting.managedRoutes"
)
NON_NEGATIVE = "must be greater than or equal to 0"
SELECTOR_MISMATCH = "`selector` does not match template `labels`"

# Ours, for mistakes Argo accepts and fails on later (see rollouts.validation.rules.validate_analyses)
TEMPLATES_REQUIRED = "at least one analysis template is required"
STARTING_STEP_PAST_LAST = "must be less than the number of steps (%d): a background analysis starting after the last step never runs"
