"""A teach locks onto one object, on real frames through the nodes' own stages (no ROS):

* a folder of different photos (a person, a cat, a cup) shown one after the other while
  "cup" is being taught: the object under the target's place changes, the teach fails and
  nothing is learned;
* the sim scene with its objects turning (``sim_motion: turn``): a teach by track id
  follows its object and collects different views of it, and a teach without track ids
  follows the box of an object that slides across the view.
"""

import cv2
import numpy as np
import pytest

from chhnn_ros.app.factories import open_detector, open_encoder, open_source, teach_policy
from chhnn_ros.app.stages import CropGeometry, DetectStage, EncodeStage, crops_from_image
from chhnn_ros.app.teaching import Teacher
from chhnn_ros.params import defaults


@pytest.fixture(scope="module")
def encode():
    encoder, _ = open_encoder({**defaults("encoder"), "device": "cpu"})
    return EncodeStage(encoder)


def features(stage, encode, frame):
    kept = stage.detect(frame)
    g = stage.geometry
    return kept, encode.encode(crops_from_image(frame.image, kept, g.size, g.pad))


def teacher(**kw):
    return Teacher(teach_policy({**defaults("classifier"), "teach_interval": 0.0, **kw}))


def test_changing_photos_fail_the_teach(tmp_path, encode):
    skimage = pytest.importorskip("skimage.data")
    for i, name in enumerate(("coffee", "astronaut", "chelsea", "coffee")):
        rgb = getattr(skimage, name)()
        cv2.imwrite(str(tmp_path / f"{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    source = open_source({**defaults("camera"), "source": "folder", "source_path": str(tmp_path), "loop": False})
    stage = DetectStage(open_detector({**defaults("detector"), "detector": "ssd", "threshold": 0.3}),
                        CropGeometry.from_params(defaults("detector")))
    t = teacher(teach_samples=4)
    t.command("cup", 0.0)
    statuses, done = [], None
    for k, frame in enumerate(source):
        kept, X = features(stage, encode, frame)
        status, done = t.frame(kept, X, frame.image.shape[:2], 0.5 * k)
        statuses.append(status)
        if t.session is None:
            break
    assert done is None and t.session is None  # nothing to learn
    final = [s for s in statuses if s is not None][-1]
    assert final.state == "error" and "changed after 1 of 4 samples" in final.message, final


def test_sim_teach_follows_a_turning_object_by_track(encode):
    pytest.importorskip("pybullet")
    p = {**defaults("camera"), "sim_objects": "duck,mug,lego", "width": 320, "height": 240, "sim_process": False,
         "sim_motion": "turn", "rate": 2.0}  # a slow camera: the objects turn a lot between frames
    source = open_source(p)
    stage = DetectStage(open_detector({**defaults("detector")}), CropGeometry.from_params(defaults("detector")))
    try:
        first = source.read()
        target = next(d for d in first.truth if d.class_name == "mug")
        t = teacher(teach_samples=5)
        t.command(f'{{"label": "mug", "track_id": {target.track_id}}}', 0.0)
        frame, done = first, None
        for k in range(8):
            kept, X = features(stage, encode, frame)
            status, done = t.frame(kept, X, frame.image.shape[:2], float(k))
            if done is not None:
                break
            frame = source.read()
        assert done is not None and done.label == "mug" and len(done.features) == 5
        assert done.views == 5  # every sample a different view of the turning mug
        mug = [encode.encode(crops_from_image(f.image, [d for d in f.truth if d.class_name == "mug"], 224, 0.1))
               for f in (first,)][0]
        assert float(np.min(done.features @ mug.T)) > 0.5  # all samples are the mug
    finally:
        source.close()


def test_sim_teach_without_tracks_follows_a_sliding_box(encode):
    pytest.importorskip("pybullet")
    import pybullet

    from chhnn_ros.perception.types import Detection
    from chhnn_ros.sim.scene import SimScene

    with SimScene(robot="a1", objects=["duck", "mug"], width=320, height=240, seed=2, randomize=False) as scene:
        duck = scene.object_ids("duck")[0]
        stage = DetectStage(open_detector({**defaults("detector")}), CropGeometry.from_params(defaults("detector")))
        t = teacher(teach_samples=4)
        frame = scene.render()
        box = next(d for d in frame.truth if d.class_name == "duck").box
        t.command(f'{{"label": "duck", "box": {list(box)}}}', 0.0)
        done = None
        for k in range(4):
            frame.truth = [Detection(*d.box, class_name=d.class_name) for d in frame.truth]  # no track ids
            kept, X = features(stage, encode, frame)
            _, done = t.frame(kept, X, frame.image.shape[:2], float(k))
            pos, orn = pybullet.getBasePositionAndOrientation(duck, physicsClientId=scene.client)
            pybullet.resetBasePositionAndOrientation(duck, [pos[0], pos[1] + 0.02, pos[2]], orn,
                                                     physicsClientId=scene.client)  # slides sideways
            frame = scene.render()
        assert done is not None and done.label == "duck" and done.views >= 2
