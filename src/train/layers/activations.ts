// Extra activation identifiers for tfjs layers. tfjs has no 'leakyRelu' activation string (only the
// LeakyReLU layer); darknet-style conv blocks want it on the conv itself, with darknet's slope 0.1.
// Registering the class makes `activation: 'leakyRelu'` resolve through tfjs's activation registry.
import { tf } from '../backend.ts';
import { LEAKY_ALPHA } from '../../vision/activations.ts';

export class LeakyReluActivation extends tf.serialization.Serializable {
  static className = 'leakyRelu';
  override getClassName(): string {
    return LeakyReluActivation.className;
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.leakyRelu(x, LEAKY_ALPHA);
  }
  getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}
tf.serialization.registerClass(LeakyReluActivation);

/** Type-safe spelling for layer configs: tfjs's ActivationIdentifier union does not list our additions. */
export const leakyRelu = 'leakyRelu' as unknown as 'linear';
