"""Launch the chhnn_ros perception pipeline: camera → detector → encoder → classifier.

    ros2 launch chhnn_ros perception.launch.py                      # sim camera, ground-truth boxes
    ros2 launch chhnn_ros perception.launch.py use_camera:=false image_topic:=/camera/image_raw detector:=yolo
    ros2 launch chhnn_ros perception.launch.py params_file:=my.yaml   # my.yaml may set learner, detector, ...
    ros2 launch chhnn_ros perception.launch.py web:=true               # + the teach console, http://localhost:8080

Results: /chhnn/objects, teach with /chhnn/teach, progress on /chhnn/teach_status, debug overlay on
/chhnn/detector/debug_image; with web:=true the teach console in the browser.  Every parameter is in
config/perception.yaml (generated from chhnn_ros/params.py).  The arguments learner, device,
detector, encoder and web_port override the params file only when given; the params file is checked
before any node starts (an unknown node or parameter name stops the launch with the closest valid
name).
"""

import yaml
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from chhnn_ros.params import UNSET, check_params_file, params_for
from chhnn_ros.ros.parent import STOP_WITH_PARENT_ENV

PACKAGE = "chhnn_ros"
# launch argument → the nodes and parameter it sets (when given)
OVERRIDES = {"learner": (("classifier",), "learner"), "device": (("detector", "encoder"), "device"),
             "detector": (("detector",), "detector"), "encoder": (("encoder",), "encoder"),
             "web_port": (("web",), "web_port")}


def _typed(node: str, name: str, text: str):
    """A launch argument's text as its parameter's type (``web_port:=8090`` is an int), checked."""
    param = next(p for p in params_for(node) if p.name == name)
    return text if isinstance(param.default, str) else param.check(yaml.safe_load(text))


def _nodes(context, *_args, **_kwargs) -> list:
    arg = {name: LaunchConfiguration(name).perform(context) for name in (
        "namespace", "params_file", "image_topic", "use_sim_time", "use_camera", "web", *OVERRIDES)}
    check_params_file(arg["params_file"])  # a typo fails here, in one line, before any node starts
    given: dict[str, dict] = {"camera": {}, "detector": {}, "encoder": {}, "classifier": {}, "web": {}}
    for name, (nodes, param) in OVERRIDES.items():
        if arg[name] != UNSET:
            for node in nodes:
                given[node][param] = _typed(node, param, arg[name])
    # The nodes stop when this launch dies, even by SIGTERM (which ros2 launch does not forward).
    common = {"package": PACKAGE, "namespace": arg["namespace"], "output": "screen",
              "additional_env": {STOP_WITH_PARENT_ENV: "1"}}
    sim_time = {"use_sim_time": arg["use_sim_time"].lower() == "true"}
    image = [("image_raw", arg["image_topic"])]
    out = [Node(executable=f"{node}_node", name=node, parameters=[arg["params_file"], sim_time, given[node]],
                remappings=image if node in ("detector", "encoder") else [], **common)
           for node in ("detector", "encoder", "classifier")]
    if arg["use_camera"].lower() == "true":
        out.insert(0, Node(executable="camera_node", name="camera",
                           parameters=[arg["params_file"], sim_time, given["camera"]], **common))
    if arg["web"].lower() == "true":
        out.append(Node(executable="web_node", name="web", parameters=[arg["params_file"], sim_time, given["web"]],
                        remappings=image, **common))  # shows the image the detector sees
    return out


def generate_launch_description() -> LaunchDescription:
    args = [
        DeclareLaunchArgument("namespace", default_value="chhnn", description="Namespace of all nodes and topics."),
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution(
            [FindPackageShare(PACKAGE), "config", "perception.yaml"]), description="Node parameters (YAML)."),
        DeclareLaunchArgument("image_topic", default_value="image_raw",
                              description="Camera image topic the detector, the encoder and the web console "
                                          "subscribe to (e.g. /camera/image_raw)."),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="Use /clock (Gazebo)."),
        DeclareLaunchArgument("use_camera", default_value="true",
                              description="Start the built-in camera node (false: use image_topic from your camera)."),
        DeclareLaunchArgument("learner", default_value=UNSET,
                              description="Continual learner: chhnn, ncm, slda, ... (empty: the params file's)."),
        DeclareLaunchArgument("device", default_value=UNSET,
                              description="Torch device: auto, cpu, cuda:0 (empty: the params file's)."),
        DeclareLaunchArgument("detector", default_value=UNSET,
                              description="groundtruth (sim), yolo, ssd (empty: the params file's)."),
        DeclareLaunchArgument("encoder", default_value=UNSET,
                              description="efficientnet, efficientnet-onnx, clip (empty: the params file's)."),
        DeclareLaunchArgument("web", default_value="false",
                              description="Start the web node: the teach console in the browser."),
        DeclareLaunchArgument("web_port", default_value=UNSET,
                              description="Port of the teach console (empty: the params file's, 8080 by default)."),
    ]
    return LaunchDescription([*args, OpaqueFunction(function=_nodes)])
