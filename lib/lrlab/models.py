"""Network architectures, built by name so a run's configuration can say which one it used."""

import math

import keras
from keras import layers, ops


def seed_cnn(input_shape=(32, 32, 3), n_classes=2):
    """The 2017 experiment's small CNN: 25,546 parameters for two classes."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(4, (3, 3), activation="relu"),
            layers.Conv2D(8, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(n_classes, activation="softmax"),
        ],
        name="seed_cnn",
    )


def vgg_bn(input_shape=(32, 32, 3), n_classes=10):
    """A small VGG-style network with batch normalization: three blocks of two 3×3 convolutions (32, 64, 128
    filters), each followed by max pooling, then global average pooling. Deep enough that its learning rate and
    schedule matter, small enough for a laptop GPU."""
    blocks = []
    for filters in (32, 64, 128):
        for _ in range(2):
            blocks += [layers.Conv2D(filters, (3, 3), padding="same", use_bias=False), layers.BatchNormalization(),
                       layers.Activation("relu")]
        blocks += [layers.MaxPooling2D((2, 2)), layers.Dropout(0.2)]
    return keras.Sequential(
        [keras.Input(shape=input_shape), *blocks, layers.GlobalAveragePooling2D(),
         layers.Dense(n_classes, activation="softmax")],
        name="vgg_bn",
    )


class PadCropFlip(layers.Layer):
    """He et al.'s augmentation, in training only: each image padded with `pad` zero pixels on every side, a random
    crop of its own size taken from it and, with probability one half, flipped left to right; every image of a batch
    its own crop and flip. Evaluated, the images pass unchanged. (Keras's RandomCrop draws one offset per batch.)"""

    def __init__(self, pad=4, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, images, training=False):
        if not training:
            return images
        batch, height, width, channels = ops.shape(images)[0], images.shape[1], images.shape[2], images.shape[3]
        p = self.pad
        padded = ops.pad(images, [[0, 0], [p, p], [p, p], [0, 0]])
        offsets = keras.random.randint((batch, 2), 0, 2 * p + 1, seed=self.seed_generator)
        rows = offsets[:, :1] + ops.arange(height)[None, :]
        columns = offsets[:, 1:] + ops.arange(width)[None, :]
        flip = keras.random.uniform((batch, 1), seed=self.seed_generator) < 0.5
        columns = ops.where(flip, ops.flip(columns, axis=1), columns)
        padded = ops.take_along_axis(padded, ops.broadcast_to(rows[:, :, None, None],
                                                              (batch, height, width + 2 * p, channels)), axis=1)
        return ops.take_along_axis(padded, ops.broadcast_to(columns[:, None, :, None],
                                                            (batch, height, width, channels)), axis=2)


def resnet20(input_shape=(32, 32, 3), n_classes=10, weight_decay=1e-4):
    """He et al.'s ResNet-20 for CIFAR-10 (2016, section 4.2): a 3×3 convolution of 16 filters, then three stages
    of three basic blocks (16, 32 and 64 filters; the second and third stages halve the resolution), global
    average pooling and a softmax: 269,722 trainable parameters for ten classes. Shortcuts are identities, zero-
    padded where the channels double (their option A: no parameters). Their augmentation is part of the network,
    active only in training: 4 pixels of zero padding, a random 32×32 crop and a random horizontal flip. Their
    weight decay of 1e-4 on the gradient is an L2 penalty of half that on every convolution and dense kernel, so
    every optimizer trains the same objective."""
    l2 = keras.regularizers.L2(weight_decay / 2)

    def conv(x, filters, stride=1):
        return layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                             kernel_initializer="he_normal", kernel_regularizer=l2)(x)

    def bn_relu(x):
        return layers.Activation("relu")(layers.BatchNormalization()(x))

    images = keras.Input(shape=input_shape)
    x = bn_relu(conv(PadCropFlip(4)(images), 16))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            y = layers.BatchNormalization()(conv(bn_relu(conv(x, filters, stride)), filters))
            if stride == 2:  # option A: subsample, and pad the new channels with zeros
                x = x[:, ::2, ::2, :]
                x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [filters // 4, filters // 4]])
            x = layers.Activation("relu")(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(n_classes, activation="softmax", kernel_regularizer=l2)(x)
    return keras.Model(images, outputs, name="resnet20")


class CausalSelfAttention(layers.Layer):
    """nanoGPT's attention: one projection to queries, keys and values, causal softmax attention per head, an
    output projection (initialised smaller, as GPT-2 scales the residual branches). No biases."""

    def __init__(self, heads, projection_std, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.projection_std = heads, projection_std

    def build(self, input_shape):
        dim = input_shape[-1]
        normal = keras.initializers.RandomNormal(stddev=0.02)
        self.qkv = layers.Dense(3 * dim, use_bias=False, kernel_initializer=normal, name="qkv")
        self.projection = layers.Dense(dim, use_bias=False, name="projection",
                                       kernel_initializer=keras.initializers.RandomNormal(stddev=self.projection_std))
        self.qkv.build(input_shape)
        self.projection.build(input_shape)

    def call(self, x):
        steps, dim = ops.shape(x)[1], x.shape[-1]
        q, k, v = ops.split(self.qkv(x), 3, axis=-1)
        q, k, v = (ops.reshape(t, (-1, steps, self.heads, dim // self.heads)) for t in (q, k, v))
        attended = ops.dot_product_attention(q, k, v, is_causal=True)
        return self.projection(ops.reshape(attended, (-1, steps, dim)))


class PositionEmbedding(layers.Layer):
    """A learned embedding of each position, added to the token embeddings."""

    def __init__(self, length, dim, **kwargs):
        super().__init__(**kwargs)
        self.embeddings = self.add_weight(shape=(length, dim), name="embeddings",
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        return x + self.embeddings[: ops.shape(x)[1]]


class TiedOutput(layers.Layer):
    """The next character's probabilities from the token embedding matrix itself (weight tying, as nanoGPT)."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, x):
        logits = ops.matmul(x, ops.transpose(self.embedding.embeddings))
        return ops.softmax(ops.cast(logits, "float32"))


def char_transformer(input_shape=(64,), n_classes=65, n_layers=4, heads=4, dim=128, dropout=0.0):
    """nanoGPT's character model at its CPU size (4 layers, 4 heads, 128 dimensions, context 64: 0.80 M
    parameters for 65 characters): pre-norm blocks of causal self-attention and a 4× GELU MLP, layer
    normalization without biases, no biases anywhere, the output layer tied to the token embedding. It returns
    probabilities, as every model here does, so the loss is the same sparse categorical cross-entropy."""
    context = input_shape[0]
    residual_std = 0.02 / math.sqrt(2 * n_layers)

    def normal(stddev=0.02):
        # a new initializer for every weight: one unseeded initializer object draws the same values at each call,
        # so sharing one gave every block's MLP the same initial weights (and the token embedding their first rows)
        return keras.initializers.RandomNormal(stddev=stddev)

    ids = keras.Input(shape=(context,), dtype="int32")
    tokens = layers.Embedding(n_classes, dim, embeddings_initializer=normal(), name="token_embedding")
    h = layers.Dropout(dropout)(PositionEmbedding(context, dim, name="position_embedding")(tokens(ids)))
    for i in range(n_layers):
        attention = CausalSelfAttention(heads, residual_std, name=f"block_{i}_attention")
        h = h + layers.Dropout(dropout)(attention(layers.LayerNormalization(epsilon=1e-5, center=False)(h)))
        mlp = layers.Dense(4 * dim, use_bias=False, kernel_initializer=normal())(
            layers.LayerNormalization(epsilon=1e-5, center=False)(h))
        mlp = layers.Dense(dim, use_bias=False, kernel_initializer=normal(residual_std))(
            keras.activations.gelu(mlp, False))
        h = h + layers.Dropout(dropout)(mlp)
    h = layers.LayerNormalization(epsilon=1e-5, center=False, name="final_norm")(h)
    return keras.Model(ids, TiedOutput(tokens, name="tied_output")(h), name="char_transformer")


def char_transformer_small(input_shape=(64,), n_classes=65):
    """The same network at a size a 2-core CPU trains for every method and several seeds: 2 layers, 4 heads, 64
    dimensions (0.10 M parameters)."""
    return char_transformer(input_shape, n_classes, n_layers=2, heads=4, dim=64)


MODELS = {"seed_cnn": seed_cnn, "vgg_bn": vgg_bn, "resnet20": resnet20, "char_transformer": char_transformer,
          "char_transformer_small": char_transformer_small}


def build_model(name, input_shape, n_classes):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name](input_shape=input_shape, n_classes=n_classes)
