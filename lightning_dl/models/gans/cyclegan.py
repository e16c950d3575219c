"""CycleGAN (Zhu et al. 2017): translation between two image domains learnt from unpaired examples."""

from __future__ import annotations

from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.models.base import Stage
from lightning_dl.models.gans.loop import AdversarialLoop
from lightning_dl.models.gans.objective import Batch, Objective, to_display
from lightning_dl.nn.adversarial import AdversarialLoss, LeastSquaresLoss
from lightning_dl.nn.discriminators import Discriminator, PatchGANDiscriminator
from lightning_dl.nn.unet import UNetGenerator

Direction = Literal["a_to_b", "b_to_a"]


def l1(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error, in float32 (also under bf16 autocast)."""
    return F.l1_loss(prediction.float(), target.float())


class CycleObjective(Objective):
    """Two generators (``generator["a_to_b"]``, ``["b_to_a"]``) and two discriminators (``discriminator["a"]``,
    ``["b"]``), each pair one player; the fixed translation images are buffers. See :class:`CycleGAN`."""

    def __init__(self, generator: Callable[..., nn.Module], discriminator: Callable[..., Discriminator],
                 input_shape: tuple[int, int, int], output_shape: tuple[int, int, int], cycle_weight: float,
                 identity_weight: float, patch: bool, num_samples: int) -> None:
        self.generator_factory, self.discriminator_factory = generator, discriminator
        self.shapes = {"a": tuple(input_shape), "b": tuple(output_shape)}
        self.cycle_weight, self.identity_weight, self.patch, self.num_samples = cycle_weight, identity_weight, patch, num_samples

    def build(self) -> dict[str, nn.Module | Tensor]:
        """``G: A→B`` and ``F: B→A`` as one generator, ``D_A`` and ``D_B`` as one discriminator; the grids' images
        (chosen from the validation data when training starts, then kept in the checkpoint)."""
        a, b = self.shapes["a"], self.shapes["b"]
        return {"generator": nn.ModuleDict({"a_to_b": self.generator_factory(input_shape=a, output_shape=b),
                                            "b_to_a": self.generator_factory(input_shape=b, output_shape=a)}),
                "discriminator": nn.ModuleDict({domain: self.discriminator_factory(image_shape=shape, patch=self.patch)
                                                for domain, shape in self.shapes.items()}),
                "sample_images_a": torch.zeros(self.num_samples, *a), "sample_images_b": torch.zeros(self.num_samples, *b),
                "sample_images_chosen": torch.zeros((), dtype=torch.bool)}

    def discriminator_losses(self, batch: Batch) -> dict[str, Tensor]:
        """Each discriminator on its domain's real images and the other generator's translations (halved)."""
        real_a, real_b = batch[0], batch[1]
        generator, adversarial = self.gan.generator, self.gan.adversarial_loss
        with torch.no_grad():
            fake_b, fake_a = generator["a_to_b"](real_a), generator["b_to_a"](real_b)
        terms, scores = {}, {}
        for domain, real, fake in (("a", real_a, fake_a), ("b", real_b, fake_b)):
            discriminator = self.gan.discriminator[domain]
            real_logits, fake_logits = discriminator(real), discriminator(fake)
            terms[f"adversarial_loss_{domain}"] = 0.5 * adversarial.discriminator_loss(real_logits, fake_logits)
            if adversarial.uses_penalty:
                terms[f"gradient_penalty_{domain}"] = adversarial.penalty(discriminator, real, fake)
            scores[f"real_score_{domain}"] = real_logits.detach().float().mean()
            scores[f"fake_score_{domain}"] = fake_logits.detach().float().mean()
        return {"loss": sum(terms.values()), **terms, **scores}

    def generator_losses(self, batch: Batch) -> dict[str, Tensor]:
        """Fool both discriminators, and come back to where each cycle started (plus the identity terms)."""
        real_a, real_b = batch[0], batch[1]
        to_b, to_a = self.gan.generator["a_to_b"], self.gan.generator["b_to_a"]
        discriminator, adversarial = self.gan.discriminator, self.gan.adversarial_loss
        fake_b, fake_a = to_b(real_a), to_a(real_b)
        terms = {"adversarial_loss_a": adversarial.generator_loss(discriminator["a"](fake_a)),
                 "adversarial_loss_b": adversarial.generator_loss(discriminator["b"](fake_b)),
                 "cycle_loss_a": l1(to_a(fake_b), real_a), "cycle_loss_b": l1(to_b(fake_a), real_b)}
        loss = terms["adversarial_loss_a"] + terms["adversarial_loss_b"]
        loss = loss + self.cycle_weight * (terms["cycle_loss_a"] + terms["cycle_loss_b"])
        if self.identity_weight:
            terms["identity_loss_a"], terms["identity_loss_b"] = l1(to_a(real_a), real_a), l1(to_b(real_b), real_b)
            loss = loss + self.identity_weight * (terms["identity_loss_a"] + terms["identity_loss_b"])
        return {"loss": loss, **terms}

    def sample(self, generator: nn.Module, n: int, labels: Tensor | None = None, latent: Tensor | None = None
               ) -> Tensor:
        """The first ``n`` grid images of domain A (repeated if need be) translated to B."""
        images = self.gan.sample_images_a
        return generator["a_to_b"](images[torch.arange(n, device=images.device) % len(images)])

    def sample_grids(self, generator: nn.Module) -> dict[str, Tensor]:
        """Two grids in [0, 1], one row each: real A, A→B, A→B→A (``a_to_b``); real B, B→A, B→A→B
        (``b_to_a``). Grey images are shown as RGB beside colour ones."""
        if not self.gan.sample_images_chosen:
            raise RuntimeError("CycleGAN has no translation images yet: train it with validation (or training) data, "
                               "or call set_sample_images(images_a, images_b).")
        grids = {}
        for direction, back, real in (("a_to_b", "b_to_a", self.gan.sample_images_a),
                                      ("b_to_a", "a_to_b", self.gan.sample_images_b)):
            translated = generator[direction](real)
            rows = [real, translated, generator[back](translated)]
            grid = torch.cat([row.expand(-1, 3, -1, -1) if row.shape[1] == 1 else row for row in rows])
            grids[direction] = to_display(grid).clamp(0, 1)  # held-out images may lie beyond the train range
        return grids


class CycleGAN(AdversarialLoop):
    """CycleGAN: image-to-image translation between two domains A and B, learnt from unpaired examples.

    Two generators translate (``G: A→B``, ``F: B→A``) and two discriminators judge each domain, trained on
    unpaired batches ``(images_a, images_b)`` (see :class:`~lightning_dl.data.UnpairedDataModule`). Runs on
    the adversarial loop with one critic step per generator step: the two generators are one player
    (``generator["a_to_b"]``, ``generator["b_to_a"]``), the two discriminators the other
    (``discriminator["a"]``, ``discriminator["b"]``), each pair with one optimiser.

    - **Discriminators** (each loss halved, as in the paper): ``D_B`` tells real B from ``G(a)``, ``D_A``
      real A from ``F(b)``; least squares by default, one logit per patch (PatchGAN) or per image
      (``patch: false``).
    - **Generators**: fool both discriminators, plus cycle consistency ``λ·(|F(G(a)) - a|₁ + |G(F(b)) - b|₁)``
      (forward and backward cycles, λ = ``cycle_weight`` = 10), plus the optional identity loss
      ``identity_weight·(|G(b) - b|₁ + |F(a) - a|₁)``, which keeps colours when both domains have the same
      channels. The paper uses ``0.5·λ`` (5) for photo ↔ painting, the Keras reference 0.5; off by default,
      since grey ↔ colour domains cannot feed one another's generator.

    Logged per epoch: each term, ``train/generator_cycle_loss_a`` and ``_b`` as the plain L1 distances
    (unweighted), and ``val/``/``test/cycle_loss_a``/``_b`` on the held-out images. ``sample_grids()``
    translates a fixed set of validation images kept in the checkpoint (set ``SampleGrid``'s ``nrow`` to
    ``num_samples``); ``sample(n)``, ``predict_step`` and ``translate`` translate A images to B.

    Args:
        generator: Builds each generator from ``input_shape`` and ``output_shape``; default the U-Net.
        discriminator: Builds each discriminator from ``image_shape`` and ``patch``; default PatchGAN.
        adversarial_loss: Default ``LeastSquaresLoss`` (MSE, as the paper).
        input_shape: ``(C, H, W)`` of domain A; the CLI links it from the DataModule.
        output_shape: ``(C, H, W)`` of domain B (same H and W as A).
        cycle_weight: λ of the cycle-consistency losses.
        identity_weight: Weight of the identity losses (0: none); needs domains with the same channels.
        patch: One real/fake logit per patch (PatchGAN) or one per image.
        num_samples: Images of each domain in the translation grids.
        **loop: The optimisers, schedulers, ``gradient_clip_val``, ``ema_decay`` (translate with the
            generators' weight average) and ``max_generator_steps`` of the loop, each for both networks of a
            player; the optimisers default to Adam(2e-4, β₁ 0.5), the paper's.
    """

    objective: CycleObjective

    def __init__(
        self,
        generator: Callable[..., nn.Module] = UNetGenerator,
        discriminator: Callable[..., Discriminator] = PatchGANDiscriminator,
        adversarial_loss: AdversarialLoss | None = None,
        input_shape: tuple[int, int, int] = (1, 32, 32),
        output_shape: tuple[int, int, int] = (3, 32, 32),
        cycle_weight: float = 10.0,
        identity_weight: float = 0.0,
        patch: bool = True,
        num_samples: int = 10,
        **loop: Any,
    ) -> None:
        if identity_weight and input_shape[0] != output_shape[0]:
            raise ConfigurationError(
                f"identity_weight={identity_weight} feeds B images to the A→B generator, but domain A has "
                f"{input_shape[0]} channels and B {output_shape[0]}; set identity_weight: 0 for such domains.")
        if cycle_weight < 0 or identity_weight < 0:
            raise ConfigurationError("cycle_weight and identity_weight must not be negative.")
        objective = CycleObjective(generator, discriminator, input_shape, output_shape, cycle_weight, identity_weight,
                                   patch, num_samples)
        super().__init__(objective, adversarial_loss=adversarial_loss or LeastSquaresLoss(), n_critic=1, **loop)
        self.input_shape, self.output_shape = tuple(input_shape), tuple(output_shape)

    # --- held-out cycle losses ---------------------------------------------------------------------
    def evaluate(self, stage: Stage, batch: Batch) -> None:
        """The L1 cycle losses of a held-out batch, as ``<stage>/cycle_loss_a`` and ``_b``."""
        real_a, real_b = batch[0], batch[1]
        generator = self.sampling_generator
        self.track(stage, "cycle_loss_a", l1(generator["b_to_a"](generator["a_to_b"](real_a)), real_a), len(real_a))
        self.track(stage, "cycle_loss_b", l1(generator["a_to_b"](generator["b_to_a"](real_b)), real_b), len(real_b))

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.evaluate("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.evaluate("test", batch)

    # --- translating -------------------------------------------------------------------------------
    def translate(self, images: Tensor, direction: Direction = "a_to_b") -> Tensor:
        """Images of one domain translated into the other (``a_to_b`` or ``b_to_a``), in eval mode, by the
        weight average when there is one."""
        with self.sampling() as generator:
            return generator[direction](images.to(self.device))

    def set_sample_images(self, images_a: Tensor, images_b: Tensor) -> None:
        """Choose the images of the translation grids (``num_samples`` of each domain, repeated if fewer)."""
        for buffer, images in ((self.sample_images_a, images_a), (self.sample_images_b, images_b)):
            index = torch.arange(len(buffer)) % len(images)
            buffer.copy_(images[index].to(buffer))
        self.sample_images_chosen.fill_(True)

    def on_train_start(self) -> None:
        super().on_train_start()
        if self.sample_images_chosen:  # restored from a checkpoint, or set by hand
            return
        trainer = self.trainer
        for loaders in (trainer.val_dataloaders, trainer.train_dataloader):
            loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
            dataset = getattr(loader, "dataset", None)
            if dataset is not None and len(dataset):  # the dataset, not the loader: the same on every process
                n = min(len(dataset), len(self.sample_images_a))
                items = list(range(n))
                batch = dataset.__getitems__(items) if hasattr(dataset, "__getitems__") else \
                    [torch.stack(column) for column in zip(*(dataset[i] for i in items))]
                self.set_sample_images(batch[0], batch[1])
                return

    def predict_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """The batch's A images translated to B."""
        return self.translate(batch[0])
