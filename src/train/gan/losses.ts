// GAN objectives. Scores are raw critic/discriminator outputs (no sigmoid anywhere in the graph:
// the WGAN critic has none by design, and the JS-GAN's sigmoid lives inside the softplus forms,
// which are the numerically stable cross-entropies).
import { tf } from '../backend.ts';

/** WGAN critic: minimise E[f(fake)] - E[f(real)] (= -estimate of the Wasserstein-1 distance). */
export function wassersteinCriticLoss(real: tf.Tensor, fake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sub(tf.mean(fake), tf.mean(real)) as tf.Scalar);
}

/** WGAN generator: minimise -E[f(G(z))]. */
export function wassersteinGeneratorLoss(fake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(fake)) as tf.Scalar);
}

/** Standard GAN discriminator: -log D(x) - log(1 - D(G(z))) with D = sigmoid(logit). */
export function jsDiscriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.add(tf.mean(tf.softplus(tf.neg(realLogits))), tf.mean(tf.softplus(fakeLogits))) as tf.Scalar);
}

/** Non-saturating generator loss of the standard GAN: -log D(G(z)). */
export function jsGeneratorLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.softplus(tf.neg(fakeLogits))) as tf.Scalar);
}

/**
 * KL(N(mu, sigma^2) || N(0, I)) averaged over the batch, with logvar = log sigma^2 (StackGAN
 * conditioning augmentation regulariser). 'sum' adds the dimensions (the KL of the whole vector);
 * 'mean' averages them, as StackGAN's reference implementation does (its lambda is per dimension).
 */
export function klNormal(mu: tf.Tensor, logvar: tf.Tensor, reduce: 'sum' | 'mean' = 'sum'): tf.Scalar {
  return tf.tidy(() => {
    const perDim = tf.mul(-0.5, tf.sub(tf.sub(tf.add(1, logvar), tf.square(mu)), tf.exp(logvar)));
    return (reduce === 'sum' ? tf.mean(tf.sum(perDim, -1)) : tf.mean(perDim)) as tf.Scalar;
  });
}

/** Clamps every variable to [-c, c] in place (WGAN's Lipschitz constraint by weight clipping). */
export function clipWeights(vars: tf.Variable[], c: number): void {
  tf.tidy(() => {
    for (const v of vars) v.assign(tf.clipByValue(v, -c, c));
  });
}
