"""Train, export, load elsewhere: 20 `omnitune train` steps on the tiny model, `convert dcp-to-hf` of the saved
iteration, then transformers' from_pretrained loads the export with no missing, unexpected or mis-shaped key and
its logits on a multimodal batch (image, audio, video) equal `omnitune forward` on the training checkpoint
(fp32, 1e-5 relative). Also: training starts from a Hugging Face directory or a converted release."""
import os
import unittest

import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen3OmniMoeForConditionalGeneration

from convert_util import load_in_transformers
from omni_batches import Builder
from train_fixture import TinyModelCase, make_model, make_model_json, read_metrics
from common import omnitune

STEPS = 20


def relative_error(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


class TrainThenExport(TinyModelCase):
    rows = 8

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        root = cls.root
        cls.save = os.path.join(root, "save")
        cls.train(cls.save, STEPS, "--save-interval", str(STEPS))
        cls.iteration = os.path.join(cls.save, f"iter_{STEPS:07d}")
        cls.export = os.path.join(root, "export")
        omnitune("convert", "dcp-to-hf", "--hf-dir", cls.model, "--dcp-dir", cls.iteration, "--save-dir", cls.export)

        cfg = Qwen3OmniMoeForConditionalGeneration.config_class.from_pretrained(cls.model)
        b = Builder(cfg, torch.Generator().manual_seed(7))
        b.row(b.text(3), b.image(1, 4, 4), b.audio(157), b.text(5))
        b.row(b.text(2), b.video(2, 4, 4), b.text(6), b.audio(60), b.text(2))
        cls.batch = b.build()
        cls.batch_path = os.path.join(root, "batch.safetensors")
        save_file({k: v for k, v in cls.batch.items() if k != "use_audio_in_video"}, cls.batch_path,
                  metadata={"use_audio_in_video": "false"})

    @classmethod
    def train(cls, save, iters, *extra, model_json=None):
        omnitune("train", "--mm-data", cls.data, "--mm-model", model_json or cls.model_json, "--micro-batch-size", "2",
            "--global-batch-size", "2", "--lr", "2e-3", "--lr-decay-style", "cosine", "--lr-warmup-iters", "2",
            "--train-iters", str(iters), "--save", save, "--log-interval", "1", "--device", "cpu", *extra)
        return [m["loss"] for m in read_metrics(save)]

    def omnitune_forward(self, model, name):
        out = os.path.join(self.root, f"forward-{name}.safetensors")
        omnitune("forward", "--model", model, "--batch", self.batch_path, "--out", out)
        return load_file(out)

    def test_export_loads_in_transformers_with_the_checkpoint_logits(self):
        hf = load_in_transformers(self, self.export)
        self.assertEqual(next(hf.parameters()).dtype, torch.float32)  # the original's dtype (init-model fp32)
        with torch.no_grad():
            theirs = hf.thinker(**self.batch)
        ours = self.omnitune_forward(self.save, "checkpoint")
        mask = self.batch["attention_mask"].bool()
        err = relative_error(ours["logits"][mask], theirs.logits[mask])
        print(f"logits relative error, transformers on the export vs omnitune on the checkpoint: {err:.2e}")
        self.assertLess(err, 1e-5)
        self.assertLess(relative_error(ours["loss"], theirs.loss), 1e-5)

        # The export holds the trained weights, not the original ones.
        original = self.omnitune_forward(self.model, "original")
        self.assertGreater(relative_error(original["logits"][mask], ours["logits"][mask]), 1e-3)

    def test_training_starts_from_a_hugging_face_directory_or_a_converted_release(self):
        """--load <HF dir> (experts merged at load) and --load <hf-to-dcp release> train exactly like a model.json
        whose init_from_hf_path is that HF directory."""
        other_root = os.path.join(self.root, "other")
        os.makedirs(other_root)
        other = make_model(other_root, seed=11)
        converted = os.path.join(self.root, "other-converted")
        omnitune("convert", "hf-to-dcp", "--hf-dir", other, "--save-dir", converted)
        expected = self.train(os.path.join(self.root, "from-init"), 3, model_json=make_model_json(other_root, other))
        from_hf = self.train(os.path.join(self.root, "from-hf"), 3, "--load", other)
        from_release = self.train(os.path.join(self.root, "from-release"), 3, "--load", converted)
        base = self.train(os.path.join(self.root, "from-base"), 3)
        self.assertEqual(from_hf, expected)
        self.assertEqual(from_release, expected)
        self.assertNotEqual(base[0], expected[0])  # the weights came from --load, not from init_from_hf_path

    def test_export_and_checkpoint_give_the_same_omnitune_forward(self):
        from_export = self.omnitune_forward(self.export, "export")
        from_iteration = self.omnitune_forward(self.iteration, "iteration")
        for k in ("logits", "loss"):
            self.assertTrue(torch.equal(from_export[k], from_iteration[k]), k)


if __name__ == "__main__":
    unittest.main()
