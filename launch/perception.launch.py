"""Launch the chhnn_ros perception pipeline: camera → detector → encoder → classifier.

    ros2 launch chhnn_ros perception.launch.py                      # sim camera, ground-truth boxes
    ros2 launch chhnn_ros perception.launch.py use_camera:=false image_topic:=/camera/image_raw detector:=yolo

Results: /chhnn/objects (JSON), teach with /chhnn/teach, progress on
/chhnn/teach_status, debug overlay on /chhnn/detector/debug_image.
Every parameter is in config/perception.yaml (generated from chhnn_ros/params.py); the launch
arguments learner, device, detector and encoder override the params file.
"""

# ruff: noqa: I001  (ruff takes `launch` for this repo's launch/ folder and would split the ROS imports)
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = "chhnn_ros"


def generate_launch_description() -> LaunchDescription:
    args = [
        DeclareLaunchArgument("namespace", default_value="chhnn", description="Namespace of all nodes and topics."),
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution(
            [FindPackageShare(PACKAGE), "config", "perception.yaml"]), description="Node parameters (YAML)."),
        DeclareLaunchArgument("image_topic", default_value="image_raw",
                              description="Camera image topic the detector and encoder subscribe to "
                                          "(e.g. /camera/image_raw)."),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="Use /clock (Gazebo)."),
        DeclareLaunchArgument("learner", default_value="chhnn", description="Continual learner: chhnn, ncm, slda, ..."),
        DeclareLaunchArgument("device", default_value="auto", description="Torch device: auto, cpu, cuda:0."),
        DeclareLaunchArgument("detector", default_value="groundtruth", description="groundtruth (sim), yolo, ssd."),
        DeclareLaunchArgument("encoder", default_value="efficientnet",
                              description="efficientnet, efficientnet-onnx, clip."),
        DeclareLaunchArgument("use_camera", default_value="true",
                              description="Start the built-in camera node (false: use image_topic from your camera)."),
    ]
    ns = LaunchConfiguration("namespace")
    params = LaunchConfiguration("params_file")
    sim_time = {"use_sim_time": LaunchConfiguration("use_sim_time")}
    device = LaunchConfiguration("device")
    nodes = [
        Node(package=PACKAGE, executable="camera_node", name="camera", namespace=ns, output="screen",
             parameters=[params, sim_time], condition=IfCondition(LaunchConfiguration("use_camera"))),
        Node(package=PACKAGE, executable="detector_node", name="detector", namespace=ns, output="screen",
             parameters=[params, sim_time, {"detector": LaunchConfiguration("detector"), "device": device}],
             remappings=[("image_raw", LaunchConfiguration("image_topic"))]),
        Node(package=PACKAGE, executable="encoder_node", name="encoder", namespace=ns, output="screen",
             parameters=[params, sim_time, {"encoder": LaunchConfiguration("encoder"), "device": device}],
             remappings=[("image_raw", LaunchConfiguration("image_topic"))]),
        Node(package=PACKAGE, executable="classifier_node", name="classifier", namespace=ns, output="screen",
             parameters=[params, sim_time, {"learner": LaunchConfiguration("learner")}]),
    ]
    return LaunchDescription(args + nodes)
