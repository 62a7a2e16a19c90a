// Everything core/ offers, in one include.
#pragma once

#include "core/allocator.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/functions.h"
#include "core/generator.h"
#include "core/named_tensors.h"
#include "core/op_registry.h"
#include "core/parallel.h"
#include "core/tensor.h"
