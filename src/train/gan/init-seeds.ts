// Seeded weight initialisers: every layer of a GAN gets its own seed drawn from one run seed, so a
// run is reproducible end to end (and a resumed run matches an uninterrupted one). tfjs's default
// initialisers draw from an unseeded generator.
import { tf } from '../backend.ts';
import { hash32 } from '../data/rng.ts';
import { lecunNormal } from '../snn/index.ts';

type Initializer = ReturnType<typeof tf.initializers.zeros>;

export class InitSeeds {
  private k = 0;
  constructor(private readonly base: number) {}

  next(): number {
    return hash32(this.base, 0x1417, this.k++) % 2147483647;
  }

  normal(stddev: number): Initializer {
    return tf.initializers.randomNormal({ mean: 0, stddev, seed: this.next() });
  }

  glorot(): Initializer {
    return tf.initializers.glorotUniform({ seed: this.next() });
  }

  he(): Initializer {
    return tf.initializers.heNormal({ seed: this.next() });
  }

  lecun(): Initializer {
    return lecunNormal({ seed: this.next() });
  }
}
