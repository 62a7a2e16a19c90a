// Everything nn/ offers, in one include.
#pragma once

#include "nn/functional.h"
#include "nn/init.h"
#include "nn/layers/activation.h"
#include "nn/layers/attention.h"
#include "nn/layers/batch_norm.h"
#include "nn/layers/conv.h"
#include "nn/layers/embedding.h"
#include "nn/layers/layer_norm.h"
#include "nn/layers/linear.h"
#include "nn/layers/sequential.h"
#include "nn/layers/shape_layers.h"
#include "nn/models/gpt.h"
#include "nn/module.h"
